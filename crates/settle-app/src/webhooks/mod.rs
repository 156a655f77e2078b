//! Outgoing webhooks: a merchant's endpoints receive its events, signed as the Standard Webhooks specification
//! defines (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`).
//!
//! - The relay creates one delivery per (event, matching endpoint) in the transaction that publishes the event
//!   ([`create_deliveries`]): an event is never published without its deliveries, nor delivered twice by design.
//! - Every instance runs a [`Sender`]: it claims due deliveries one by one (a compare-and-set in the database,
//!   so one worker sends a delivery at a time), sends each in a task of its own, at most
//!   [`WebhookSettings::per_endpoint`] at once per endpoint (a slow endpoint holds only its own slots), and
//!   records the attempt. A non-2xx answer, no answer within the timeout, a redirect or a refused address is
//!   retried on [`WebhookSettings::schedule`] with jitter; after the last retry the delivery is FAILED and kept.
//!   A worker that dies mid-send leaves its claim to run out: the delivery is sent again with the same
//!   `webhook-id` (at least once; receivers dedupe on it).
//! - An endpoint whose deliveries have all failed for [`WebhookSettings::disable_after`] is disabled, and a
//!   `webhook_endpoint.disabled` event is recorded.
//! - Addresses: an endpoint must be https, and its host must resolve only to public addresses, unless the host
//!   is on [`WebhookSettings::allow_hosts`]. The check runs when the endpoint is created or changed and again
//!   on every connection (the client's resolver refuses, so a name that changes its answer between the two
//!   gains nothing); redirects are never followed.

pub use crate::settings::WebhookSettings;

mod address_guard;
mod deliveries;
mod endpoints;
mod events;
mod sender;
mod signing;
mod topics;

pub use address_guard::*;
pub use deliveries::*;
pub use endpoints::*;
pub use events::*;
pub use sender::*;
pub use signing::*;
pub use topics::*;

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD as B64};

    use super::*;

    #[test]
    fn patterns_and_matching() {
        let p = |v: &[&str]| parse_patterns("events", &v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(&["payment.*", "order.paid", "payment.*"]).unwrap(), ["payment.*", "order.paid"]);
        assert!(p(&["*"]).is_ok());
        for bad in ["", "Payment.*", "payment.", "payment.*.x", "pay ment", "payment%", "a.b_c.*x"] {
            assert!(p(&[bad]).is_err(), "{bad:?} accepted");
        }
        assert!(p(&[]).is_err());
        assert!(matches("payment.*", "payment.completed"));
        assert!(!matches("payment.*", "payments.x"));
        assert!(matches("*", "saga.started"));
        assert!(matches("order.paid", "order.paid") && !matches("order.paid", "order.paid2"));
    }

    #[test]
    fn addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        let allow = vec!["127.0.0.1".to_owned()];
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(refuse_url(&allow, &u("http://127.0.0.1:9/x")).is_none());
        assert!(refuse_url(&[], &u("http://127.0.0.1:9/x")).is_some());
        assert!(refuse_url(&[], &u("https://127.0.0.1:9/x")).is_some());
        assert!(refuse_url(&[], &u("https://user:pw@example.com/x")).is_some());
        assert!(refuse_url(&[], &u("ftp://example.com/x")).is_some());
        assert!(refuse_url(&[], &u("https://example.com/x")).is_none());
    }

    #[test]
    fn signatures_follow_the_specification() {
        // The specification's example: secret, id, timestamp, body and the signature it gives.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "a", 1, "b"), None);
        let s = new_secret();
        assert!(s.starts_with("whsec_") && B64.decode(&s[6..]).unwrap().len() == 32);
    }
}
