//! The real server on port 0 over a test database, and a client for it.

use reqwest::{Method, StatusCode};
use rollcall::domain::audit::Actor;
use rollcall::service::{self, Ctx};
use rollcall::startup::Application;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::db::{Backend, TestDb};

pub struct TestApp {
    pub db: TestDb,
    pub base: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

/// A response read whole: status, headers, JSON body (Null when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawn with configuration overrides, e.g. `("scim.max_page_size", json!(5))`.
    pub async fn spawn_with(backend: Backend, overrides: &[(&str, Value)]) -> TestApp {
        let db = TestDb::new(backend);
        let mut settings_fig = super::db::settings_figment(&db.url);
        for (k, v) in overrides {
            settings_fig =
                settings_fig.merge(figment::providers::Serialized::default(k, v.clone()));
        }
        let settings =
            rollcall::configuration::Settings::from_figment(settings_fig).expect("test settings");
        let app = Application::with_store(settings, db.store()).expect("build app");
        let base = format!("http://{}", app.address());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            db,
            base,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            handle,
        }
    }

    /// Stop the server (gracefully; its workers finish what they send) and
    /// keep the database, e.g. to start another node on it.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request failed");
        read(resp).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Create an org through the CLI's code path and an API key for it.
    pub fn org_with_key(&self, slug: &str) -> String {
        self.org_with_preset(slug, "analytics")
    }

    /// Create an org from a preset and an owner API key for it.
    pub fn org_with_preset(&self, slug: &str, preset: &str) -> String {
        let store = self.db.store();
        let ctx = Ctx::new(Actor::cli(), None);
        let slug = slug.to_owned();
        let preset = preset.to_owned();
        let (_, token) = store
            .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
                let org = service::orgs::create(
                    c,
                    &ctx,
                    service::orgs::NewOrg {
                        slug,
                        name: None,
                        preset: Some(preset),
                    },
                )?;
                service::api_keys::create(
                    c,
                    &ctx,
                    service::api_keys::NewKey {
                        org: Some(&org),
                        name: "test".into(),
                        role_key: None,
                        instance_admin: false,
                        user: None,
                    },
                )
            })
            .unwrap();
        token.expose_secret().to_owned()
    }

    /// Create a user `name` (email `name@example.com`) with an org-level
    /// role through the admin API; returns the user's id.
    pub async fn user(&self, key: &str, org: &str, name: &str, role: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/orgs/{org}/users"),
                key,
                serde_json::json!({"user_name": name, "email": format!("{name}@example.com"), "role": role}),
            )
            .await;
        assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// A personal API key acting as the user (id or userName) of the org.
    pub fn personal_key(&self, org: &str, user: &str) -> String {
        let ctx = Ctx::new(Actor::cli(), None);
        let (_, token) = self
            .db
            .store()
            .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
                let org = service::orgs::resolve(c, org)?;
                let user = service::users::find_by_id_or_name(c, &org, user)?;
                service::api_keys::create(
                    c,
                    &ctx,
                    service::api_keys::NewKey {
                        org: Some(&org),
                        name: format!("personal {}", user.user_name),
                        role_key: None,
                        instance_admin: false,
                        user: Some(&user),
                    },
                )
            })
            .unwrap();
        token.expose_secret().to_owned()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// A SCIM directory of the org: (base URL, first token).
    pub fn scim_directory(&self, org: &str, name: &str) -> (String, String) {
        let ctx = Ctx::new(Actor::cli(), None);
        let (d, _, token) = self
            .db
            .store()
            .write_blocking(|c| -> Result<_, rollcall::error::AppError> {
                let org = service::orgs::resolve(c, org)?;
                let op = service::authz::OrgPolicy::load(c, &org)?;
                let acting = service::Acting {
                    ctx: &ctx,
                    org: &org,
                    op: &op,
                    authority: &service::authz::Authority::Operator,
                };
                service::directories::create(c, &acting, name, None)
            })
            .unwrap();
        (
            format!("{}{}", self.base, service::directories::base_path(&d)),
            token.expose_secret().to_owned(),
        )
    }

    /// A SCIM request (`application/scim+json`) to a full URL.
    pub async fn scim(&self, method: Method, url: &str, token: &str, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        read(req.send().await.expect("request failed")).await
    }

    pub fn instance_admin_key(&self) -> String {
        let ctx = Ctx::new(Actor::cli(), None);
        let (_, token) = self
            .db
            .store()
            .write_blocking(|c| {
                service::api_keys::create(
                    c,
                    &ctx,
                    service::api_keys::NewKey {
                        org: None,
                        name: "root".into(),
                        role_key: None,
                        instance_admin: true,
                        user: None,
                    },
                )
            })
            .unwrap();
        token.expose_secret().to_owned()
    }
}

pub async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop without waiting; the runtime ends with the test.
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}
