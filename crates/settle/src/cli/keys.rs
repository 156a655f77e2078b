//! `settle keys`: a fresh master key, and every stored secret sealed again under the first key.

use super::{
    Format, KeysAction,
    output::{emit, usage},
};
use crate::{Config, startup};

/// `settle keys generate` or `settle keys rotate`.
pub(super) async fn keys(cfg: &Config, action: KeysAction, format: Option<Format>) -> anyhow::Result<()> {
    match action {
        KeysAction::Generate => {
            let key = settle_app::crypto::Keyring::generate();
            match format {
                Some(Format::Json) => emit(&serde_json::json!({"masterKey": key}), format, Format::Json),
                _ => emit(&key, format, Format::Text),
            }
        }
        KeysAction::Rotate => {
            let Some(keys) = cfg.app.keyring.clone() else {
                return Err(usage("set SETTLE_MASTER_KEY: the new key first, then the keys the secrets are sealed under now"));
            };
            let db = startup::open_database(cfg).await?;
            settle_store::migration::up(&db).await?;
            let settings = settle_app::Settings { keyring: Some(keys.clone()), ..Default::default() };
            let ctx = settle_app::Context::new(db, settle_app::cache::PaymentCache::memory(), settings);
            let n = settle_app::webhooks::reseal_all(&ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?
                + settle_app::checkout::reseal_all(&ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            emit(&serde_json::json!({"resealed": n, "keyId": keys.current_id()}), format, Format::Text)
        }
    }
}
