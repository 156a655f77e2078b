//! The reference for `scripts/bench`: a bare axum route answering `GET /payments/{paymentId}/status` with the
//! JSON Settle answers from its cache, and nothing else (no authentication, cache, middleware or metrics). The
//! bench reports Settle's cached status read as a fraction of this on the same machine in the same run. It
//! allocates with the same allocator as the `settle` binary, so the two differ only in what Settle does.
//!
//! usage: cargo run --release --example bare_status -- 127.0.0.1:PORT

use axum::{Json, Router, extract::Path, routing::get};
use serde::Serialize;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusView {
    payment_id: String,
    status: &'static str,
    chain_id: Option<i64>,
    updated_at: &'static str,
}

async fn status(Path(payment_id): Path<String>) -> Json<StatusView> {
    Json(StatusView { payment_id, status: "PENDING", chain_id: Some(31337), updated_at: "2026-01-01T00:00:00.000Z" })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3998".into());
    if !addr.starts_with("127.") {
        eprintln!("the reference listens on 127.0.0.x only");
        std::process::exit(2);
    }
    let app = Router::new().route("/payments/{paymentId}/status", get(status));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
