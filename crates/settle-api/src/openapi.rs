//! Completes the generated OpenAPI document with what every route shares and the handlers enforce, so that a
//! generic client or fuzzer can rely on it:
//!
//! - the statuses the middleware and extractors answer on any route: 401 (secured routes), 429 (rate limit),
//!   400 (a bad path, query or header value), 413 and 415 (routes with a JSON body), 503 (database unavailable
//!   or busy; Retry-After), 504 (request timeout), and 409/422 where an Idempotency-Key is taken;
//! - the constraints of each field as the handlers check them (patterns for ids, addresses and amounts, enums,
//!   ranges and lengths), by field name — one table, next to the checks it mirrors (`settle-domain`,
//!   `settle_app::shop`, the route parsers). The schema fuzzer in the test suite holds the two together: a value
//!   the document allows that a handler refuses with 400, or one it forbids that a handler accepts, fails it.

use serde_json::{Value, json};

/// A pattern for ids the merchant chooses (users, items, coupons): `settle_app::shop::check_id`.
const SHOP_ID: &str = "^[A-Za-z0-9_.-]{1,64}$";
/// `settle_domain::PaymentId` (either case; shown lower-case).
const PAYMENT_ID: &str = "^0x[0-9a-fA-F]{64}$";
/// `settle_domain::Address`.
const ADDRESS: &str = "^0x[0-9a-fA-F]{40}$";
/// `settle_domain::OrderId` and `Idempotency-Key`: printable ASCII without spaces.
const PRINTABLE: &str = "^[!-~]{1,255}$";
/// A name: 1 to 255 characters, not only spaces, no NUL.
const NAME: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";
/// `settle_app::shop::MAX_UNITS`: balances, prices, stock and discounts fit a JavaScript number exactly.
const MAX_UNITS: i64 = (1 << 53) - 1;

/// The constraints of a field called `name` in `place` (a component schema's name, or an operation's path).
fn constraints(place: &str, name: &str) -> Option<Value> {
    Some(match (place, name) {
        ("CallbackRequest", "orderId") => json!({ "pattern": PAYMENT_ID }),
        ("CallbackRequest", "transactionKey") => json!({ "pattern": "^[A-Za-z0-9_-]{1,128}$" }),
        ("CreatePaymentRequest", "orderId") => json!({ "pattern": PRINTABLE }),
        // Greater than zero, below 2^256 (77 digits always are).
        ("CreatePaymentRequest", "amount") => json!({ "pattern": "^0*[1-9][0-9]{0,76}$" }),
        ("CreatePaymentRequest", "currency") => json!({ "pattern": "^[A-Z][A-Z0-9]{0,9}$" }),
        ("CreatePaymentRequest", "rail") => json!({ "enum": ["CHAIN", "CARD", null] }),
        ("CreatePaymentRequest", "chainId") => json!({ "minimum": 1, "maximum": MAX_UNITS }),
        ("CreatePaymentRequest", "expiresInSecs") => json!({ "minimum": 60, "maximum": 604_800 }),
        ("/sagas", "startingAfter" | "endingBefore") => json!({ "pattern": "^[A-Za-z0-9_-]{1,64}$" }),
        ("/events", "startingAfter" | "after") | (_, "Last-Event-ID") => json!({ "pattern": EVENT_CURSOR }),
        ("/payments", "startingAfter" | "endingBefore") | (_, "paymentId") => json!({ "pattern": PAYMENT_ID }),
        (_, "tokenAddress" | "recipientAddress" | "payer") => json!({ "pattern": ADDRESS }),
        (_, "userId" | "itemId" | "couponId" | "issuedCouponId") => json!({ "pattern": SHOP_ID }),
        (_, "name") => json!({ "minLength": 1, "maxLength": 255, "pattern": NAME }),
        (_, "cardType") => json!({ "enum": ["SAMSUNG", "KB", "HYUNDAI"] }),
        (_, "cardNo") => json!({ "pattern": "^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}$" }),
        (_, "feeBps") => json!({ "minimum": 0, "maximum": 10_000 }),
        (_, "points" | "price" | "stock" | "discount" | "purchaseLimit") => json!({ "minimum": 0, "maximum": MAX_UNITS }),
        (_, "quantity") => json!({ "minimum": 1, "maximum": 10_000 }),
        (_, "pattern") => json!({ "enum": ["orchestration", "choreography", null] }),
        ("CreateUserRequest", "status") => {
            json!({ "enum": settle_domain::UserStatus::ALL.map(|s| Some(s.as_str())).into_iter().chain([None]).collect::<Vec<_>>() })
        }
        ("/payments", "status") => json!({ "enum": settle_domain::PaymentStatus::ALL.map(|s| s.as_str()) }),
        ("/payments", "orderId") => json!({ "pattern": PRINTABLE }),
        (_, "limit") => json!({ "minimum": 1, "maximum": 100 }),
        ("/sagas", "status") => json!({ "enum": settle_domain::SagaStatus::ALL.map(|s| s.as_str()) }),
        ("/sagas", "page") => json!({ "minimum": 1, "maximum": 100_000 }),
        ("/sagas", "dateFrom") | (_, "createdFrom" | "createdTo") => json!({ "format": "date-time" }),
        (_, "permitSignature") => json!({ "pattern": "^0x[0-9a-fA-F]{130}$" }),
        (_, "Idempotency-Key") => json!({ "pattern": PRINTABLE }),
        _ => return None,
    })
}

/// A reader's place in its events: an event id (`evt_<UUIDv7>`, or `evt_<seq>` of an event published before ids
/// were made with it) or a seq.
const EVENT_CURSOR: &str = "^([0-9]{1,18}|evt_[0-9]{1,18}|evt_[0-9a-f]{12}7[0-9a-f]{19})$";

/// Adds each field's constraints to its schema (an inline one; a `$ref` or `oneOf` is left as it is).
fn constrain(place: &str, name: &str, schema: &mut Value) {
    let (Some(c), Some(obj)) = (constraints(place, name), schema.as_object_mut()) else { return };
    if obj.contains_key("$ref") || obj.contains_key("oneOf") {
        return;
    }
    for (k, v) in c.as_object().into_iter().flatten() {
        obj.insert(k.clone(), v.clone());
    }
}

fn error(description: &str, retry_after: bool) -> Value {
    let mut r = json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
    });
    if retry_after {
        r["headers"] = json!({ "Retry-After": { "description": "Seconds to wait before retrying", "schema": { "type": "integer" } } });
    }
    r
}

/// Routes that touch neither the database nor a dependency, and answer at once.
const STATIC: [&str; 4] = ["/health/live", "/metrics", "/openapi.json", "/docs"];

/// Completes `doc` (the generated document, as JSON) in place.
pub(crate) fn complete(doc: &mut Value) {
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (schema_name, schema) in schemas.iter_mut() {
            if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, p) in props.iter_mut() {
                    constrain(schema_name, name, p);
                }
            }
        }
        // An order has at least one line.
        if let Some(items) = schemas.get_mut("PlaceOrderRequest").and_then(|s| s.pointer_mut("/properties/items")) {
            items["minItems"] = json!(1);
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    add_seed_aliases(paths);
    for (path, ops) in paths.iter_mut() {
        // The fields of /v1/payments are those of the seed's /payments; the seed's saga list is /sagas too.
        let place = path.strip_prefix("/v1").unwrap_or(path);
        for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let mut idempotent = false;
            let mut has_params = false;
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                idempotent |= name == "Idempotency-Key";
                has_params = true;
                if let Some(s) = p.get_mut("schema") {
                    // A header or query value is absent or a string, never JSON null.
                    if let Some(types) = s.get_mut("type").and_then(Value::as_array_mut) {
                        types.retain(|t| t != "null");
                        if types.len() == 1 {
                            s["type"] = types[0].clone();
                        }
                    }
                    constrain(place, &name, s);
                }
            }
            let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let has_body = op.get("requestBody").is_some();
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            let mut add = |status: &str, r: Value| {
                responses.entry(status.to_owned()).or_insert(r);
            };
            if secured {
                add("401", error("authentication_error: no API key, or one Settle does not know", false));
            }
            if place == "/payments/callback" || secured {
                add("429", error("rate_limited: too many requests from this caller; retry after Retry-After", true));
            }
            if has_body {
                add("400", error("invalid_request_error: the body is not the JSON object this route takes", false));
                add("413", error("body_too_large", false));
                add("415", error("unsupported_media_type: send the body as Content-Type: application/json", false));
            }
            if has_params {
                add("400", error("invalid_request_error: a path, query or header value is not valid", false));
            }
            if path.contains('{') {
                add("404", error("not_found: nothing of this id belongs to the caller", false));
            }
            if idempotent {
                add("409", error("idempotency_in_flight: a request with this Idempotency-Key is still running", false));
                add("422", error("idempotency_key_reused: this Idempotency-Key was used with another request", false));
            }
            if !STATIC.contains(&path.as_str()) {
                add("503", error("unavailable: the database (or a dependency) cannot serve this now; retry after Retry-After", true));
            }
            if !matches!(path.as_str(), "/events" | "/v1/events/stream") {
                add("504", error("request_timeout: the request took longer than the server's request timeout", false));
            }
        }
    }
    // Each Server-Sent Event as a client parses it: its id (the event id), its type, and its JSON data.
    for pointer in
        ["/paths/~1v1~1events~1stream/get/responses/200/content/text~1event-stream", "/paths/~1events/get/responses/200/content/text~1event-stream"]
    {
        let Some(sse) = doc.pointer_mut(pointer) else { continue };
        sse["schema"] = json!({
            "type": "object",
            "required": ["data"],
            "properties": {
                "id": { "type": "string", "pattern": EVENT_CURSOR },
                "event": { "type": "string", "pattern": "^[a-z_]+\\.[a-z_.]+$" },
                "data": { "type": "string", "description": "The event as JSON, as GET /v1/events gives it: {id, seq, type, createdAt, data} (data: the payment for payment.*)" },
            },
        });
    }
}

/// Describes each of the seed's paths that answer as a /v1 route with a copy of that route's operation, tagged
/// `seed` (its operationId suffixed, so that generated clients keep one function per operation).
fn add_seed_aliases(paths: &mut serde_json::Map<String, Value>) {
    for (method, alias, v1) in crate::router::SEED_ALIASES {
        let Some(mut op) = paths.get(v1).and_then(|p| p.get(method)).cloned() else { continue };
        op["tags"] = json!(["seed"]);
        if let Some(id) = op.get("operationId").and_then(Value::as_str) {
            op["operationId"] = json!(format!("seed_{id}"));
        }
        let summary = format!("Seed alias of {} {v1}", method.to_uppercase());
        op["description"] = json!(match op.get("description").and_then(Value::as_str) {
            Some(d) => format!("{summary}: the same request and answer.\n\n{d}"),
            None => format!("{summary}: the same request and answer."),
        });
        let entry = paths.entry(alias.to_owned()).or_insert_with(|| json!({}));
        entry[method] = op;
    }
}
