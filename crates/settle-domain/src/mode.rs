//! Test and live modes. A merchant's objects live in two tenants: live mode under the merchant's id, test mode
//! under `<merchant id>:test`. Every store function is scoped by its tenant, so the two modes are kept apart by the
//! same rule that keeps merchants apart; an API key belongs to one tenant, so its mode is what the database says,
//! never what its text claims. The API shows the merchant's own id and `livemode`.

/// What a test-mode tenant's id ends with (no merchant id holds a `:`).
pub const TEST_SUFFIX: &str = ":test";

/// The tenant of a merchant's test mode.
pub fn test_tenant(merchant_id: &str) -> String {
    format!("{}{TEST_SUFFIX}", merchant_of(merchant_id))
}

/// Whether a tenant is a merchant's live mode.
pub fn is_live(tenant: &str) -> bool {
    !tenant.ends_with(TEST_SUFFIX)
}

/// The merchant a tenant belongs to (its own id in live mode).
pub fn merchant_of(tenant: &str) -> &str {
    tenant.strip_suffix(TEST_SUFFIX).unwrap_or(tenant)
}

/// The tenant of a merchant in one mode.
pub fn tenant(merchant_id: &str, live: bool) -> String {
    if live { merchant_of(merchant_id).to_owned() } else { test_tenant(merchant_id) }
}

/// What an API key of this mode starts with.
pub fn key_prefix(live: bool) -> &'static str {
    if live { "sk_live_" } else { "sk_test_" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_names_its_merchant_and_mode() {
        assert!(is_live("mch_1"));
        assert_eq!(test_tenant("mch_1"), "mch_1:test");
        assert_eq!(test_tenant("mch_1:test"), "mch_1:test");
        assert!(!is_live("mch_1:test"));
        assert_eq!(merchant_of("mch_1:test"), "mch_1");
        assert_eq!(merchant_of("mch_1"), "mch_1");
        assert_eq!(tenant("mch_1:test", true), "mch_1");
        assert_eq!(tenant("mch_1", false), "mch_1:test");
    }
}
