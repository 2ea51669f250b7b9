//! Rendering: templates (minijinja; `.html` templates auto-escape) to one
//! RFC 5322 message with a text and an HTML part, a Message-ID of our own and
//! the org's name as the sender name. Links are built only from
//! `server.public_url` (or, with the file transport and no public URL, from
//! the configured listen address) — never from a request's Host header.

use std::sync::LazyLock;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use minijinja::Environment;
use serde::Serialize;

use crate::configuration::{OutboxKey, Settings};
use crate::error::AppError;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        ("invite.txt", include_str!("templates/invite.txt")),
        ("invite.html", include_str!("templates/invite.html")),
        ("login.txt", include_str!("templates/login.txt")),
        ("login.html", include_str!("templates/login.html")),
    ] {
        env.add_template(name, text)
            .expect("the built-in mail templates parse");
    }
    env
});

/// What a service needs to queue mail: where links point, who sends, the
/// key that seals queued messages.
#[derive(Clone)]
pub struct Composer {
    base_url: String,
    from: lettre::Address,
    key: OutboxKey,
}

/// A rendered message, ready to be sealed onto an outbox row.
pub struct Rendered {
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    pub bytes: Vec<u8>,
}

/// The facts an invite mail carries.
#[derive(Serialize)]
pub struct InviteMail<'a> {
    pub org_name: &'a str,
    pub inviter: &'a str,
    pub invitee_name: Option<&'a str>,
    pub role: Option<&'a str>,
    pub workspaces: Vec<String>,
    pub link: String,
    pub expires: String,
}

/// The facts a sign-in mail carries.
#[derive(Serialize)]
pub struct LoginMail<'a> {
    pub org_name: &'a str,
    pub link: String,
    pub minutes: u64,
}

impl Composer {
    pub fn new(settings: &Settings) -> Composer {
        let base_url =
            settings.server.public_url.clone().unwrap_or_else(|| {
                format!("http://{}:{}", settings.server.host, settings.server.port)
            });
        Composer {
            base_url,
            from: settings.email.from.clone(),
            key: settings.email.outbox_key.clone(),
        }
    }

    pub fn key(&self) -> &OutboxKey {
        &self.key
    }

    /// An absolute link to `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn invite(
        &self,
        to_name: Option<&str>,
        to: &str,
        mail: &InviteMail<'_>,
    ) -> Result<Rendered, AppError> {
        let subject = format!("You are invited to {} on rollcall", mail.org_name);
        self.build(mail.org_name, to_name, to, &subject, "invite", mail)
    }

    pub fn login(&self, to: &str, mail: &LoginMail<'_>) -> Result<Rendered, AppError> {
        let subject = format!("Sign in to {}", mail.org_name);
        self.build(mail.org_name, None, to, &subject, "login", mail)
    }

    fn build(
        &self,
        sender_name: &str,
        to_name: Option<&str>,
        to: &str,
        subject: &str,
        template: &str,
        data: &impl Serialize,
    ) -> Result<Rendered, AppError> {
        let render = |ext: &str| {
            TEMPLATES
                .get_template(&format!("{template}.{ext}"))
                .and_then(|t| t.render(data))
                .map_err(|e| AppError::Internal(format!("mail template {template}.{ext}: {e}")))
        };
        let (text, html) = (render("txt")?, render("html")?);
        let to_addr: lettre::Address = to
            .parse()
            .map_err(|e| AppError::bad_request(format!("`{to}` is not a mail address: {e}")))?;
        let message_id = format!("<{}@{}>", uuid::Uuid::now_v7().simple(), self.from.domain());
        let message = Message::builder()
            .from(Mailbox::new(
                Some(sender_name.to_owned()),
                self.from.clone(),
            ))
            .to(Mailbox::new(to_name.map(str::to_owned), to_addr))
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| AppError::Internal(format!("cannot build the message: {e}")))?;
        Ok(Rendered {
            message_id,
            sender: self.from.to_string(),
            recipient: to.to_owned(),
            bytes: message.formatted(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composer() -> Composer {
        let fig = {
            use figment::providers::Format;
            figment::Figment::from(figment::providers::Toml::string(
                crate::configuration::DEFAULT_TOML,
            ))
            .merge(figment::providers::Serialized::default(
                "server.public_url",
                "https://id.example.com/",
            ))
        };
        Composer::new(&Settings::from_figment(fig).unwrap())
    }

    #[test]
    fn invite_mail_has_text_and_html_with_escaped_names_and_the_link() {
        let c = composer();
        let link = c.link("/invite/ri_x");
        let r = c
            .invite(
                Some("Ada"),
                "ada@example.com",
                &InviteMail {
                    org_name: "Acme <Labs>",
                    inviter: "Bob",
                    invitee_name: Some("Ada"),
                    role: Some("Read Only"),
                    workspaces: vec!["Research".into()],
                    link: link.clone(),
                    expires: "2026-12-08".into(),
                },
            )
            .unwrap();
        assert_eq!(link, "https://id.example.com/invite/ri_x");
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert!(text.contains(&format!("Message-ID: {}", r.message_id)));
        assert!(text.contains("Acme &lt;Labs&gt;"), "HTML escapes names");
        assert!(text.contains("https://id.example.com/invite/ri_x"));
        assert!(text.contains("Read Only") && text.contains("Research"));
        assert_eq!(r.recipient, "ada@example.com");
    }

    #[test]
    fn a_bad_recipient_is_a_client_error() {
        let c = composer();
        let err = c
            .login(
                "not an address",
                &LoginMail {
                    org_name: "Acme",
                    link: c.link("/x"),
                    minutes: 15,
                },
            )
            .err()
            .unwrap();
        assert!(matches!(err, AppError::BadRequest { .. }));
    }
}
