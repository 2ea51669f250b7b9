DROP TABLE org_preset_sync;
