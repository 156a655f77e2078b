//! `settle seed` and `settle merchant`: the demo merchant and its shop, and merchants created or changed.

use super::{Format, MerchantAction, output::emit};
use crate::{Config, startup};

async fn context(cfg: &Config) -> anyhow::Result<settle_app::Context> {
    let db = startup::open_database(cfg).await?;
    settle_store::migration::up(&db).await?;
    Ok(settle_app::Context::new(db, settle_app::cache::PaymentCache::memory(), Default::default()))
}

/// `settle seed`: the demo merchant and its shop.
pub(super) async fn seed(cfg: &Config, format: Option<Format>) -> anyhow::Result<()> {
    let ctx = context(cfg).await?;
    let m = settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    settle_app::shop::seed_demo(&ctx, &settle_app::merchants::demo_tenant()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    emit(&m, format, Format::Json)
}

/// `settle merchant create`, `set-fee` or `set`.
pub(super) async fn merchant(cfg: &Config, action: MerchantAction, format: Option<Format>) -> anyhow::Result<()> {
    match action {
        MerchantAction::Create { name, fee_bps } => {
            let ctx = context(cfg).await?;
            let m = settle_app::merchants::create(&ctx, &name, settle_domain::FeeBps::new("--fee-bps", fee_bps)?)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            emit(&m, format, Format::Json)
        }
        MerchantAction::SetFee { merchant_id, fee_bps } => {
            let ctx = context(cfg).await?;
            let m = settle_app::merchants::set_fee(&ctx, &merchant_id, settle_domain::FeeBps::new("--fee-bps", fee_bps)?)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            emit(&m, format, Format::Json)
        }
        MerchantAction::Set { merchant_id, fee_bps, refund_late_payments, return_fee_on_refund, redirect_hosts } => {
            let fee = fee_bps.map(|b| settle_domain::FeeBps::new("--fee-bps", b)).transpose()?;
            let redirect_hosts = redirect_hosts.map(|h| h.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect());
            let changes = settle_app::merchants::MerchantChanges { fee, refund_late_payments, return_fee_on_refund, redirect_hosts };
            anyhow::ensure!(!changes.is_empty(), "give --fee-bps, --refund-late-payments, --return-fee-on-refund or --redirect-hosts");
            let ctx = context(cfg).await?;
            let m = settle_app::merchants::update(&ctx, &merchant_id, changes).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            emit(&m, format, Format::Json)
        }
    }
}
