//! The background workers each instance runs: the outbox relay and the follower, the card rail's reconciler
//! and voider, the webhook sender, the saga workers, a watcher and a relayer per chain, and the janitor
//! (expired idempotency keys, events past their retention). Each is a
//! [`crate::worker`] step loop; the single-active ones hold a lease and give it up when they stop.

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{Context, outbox};

/// Starts this instance's background workers on `ctx`; they stop when `stop` turns true.
pub fn spawn(ctx: &Context, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    // Each worker: its step loop (woken by `wake`, else every `idle`), then its lease given up at shutdown.
    macro_rules! worker {
        ($name:literal, $worker:expr, $wake:expr, $idle:expr) => {{
            let (w, wake, idle, stop, ctx) = ($worker, $wake, $idle, stop.clone(), ctx.clone());
            handles.push(tokio::spawn(async move {
                let step = w.clone();
                let run = move || {
                    let (s, ctx) = (step.clone(), ctx.clone());
                    async move {
                        // Workers that write pause while Settle is read-only; the follower only reads.
                        if $name != "follower" && ctx.read_only().is_some() {
                            return Ok(crate::worker::Outcome::Idle);
                        }
                        s.run_once().await
                    }
                };
                crate::worker::run_loop($name, run, wake, idle, stop).await;
                w.release().await;
            }));
        }};
    }
    let never = || Arc::new(Notify::new());
    worker!("outbox-relay", outbox::Relay::new(ctx.clone()), ctx.outbox_wake.clone(), ctx.settings.outbox_poll);
    worker!("follower", crate::follower::Follower::new(ctx.clone()), ctx.follow_wake.clone(), ctx.settings.follow_poll);
    match crate::webhooks::Sender::new(ctx.clone()) {
        Ok(s) => worker!("webhook-sender", s, ctx.webhook_wake.clone(), ctx.settings.webhooks.poll),
        Err(e) => tracing::error!(error = %e, "webhooks cannot be sent"),
    }
    if ctx.pg.is_some() {
        worker!("card-reconciler", crate::card::Reconciler::new(ctx.clone()), never(), ctx.settings.card.poll);
        worker!("card-voider", crate::card::Voider::new(ctx.clone()), never(), ctx.settings.card.poll);
    }
    // Every handler of the choreography emits its next event, so the dispatcher wakes on each publication
    // (and polls for events another instance's relay published).
    let (chor_wake, nats_wake) = (never(), never());
    let (bridge_wake, nats_bridge, mut published, mut bridge_stop) = (chor_wake.clone(), nats_wake.clone(), ctx.published.subscribe(), stop.clone());
    handles.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                r = published.changed() => if r.is_err() { break } else { bridge_wake.notify_one(); nats_bridge.notify_one() },
                _ = bridge_stop.changed() => break,
            }
        }
    }));
    if let Some(n) = &ctx.settings.nats {
        worker!("nats-publisher", crate::nats::Publisher::new(ctx.clone(), n.clone()), nats_wake, Duration::from_millis(500));
    }
    worker!("saga-choreography", crate::orders::Choreographer::new(ctx.clone()), chor_wake, Duration::from_millis(200));
    worker!("saga-recovery", crate::orders::SagaWorker::new(ctx.clone()), never(), Duration::from_millis(500));
    for chain in ctx.chains.0.iter() {
        let w = crate::chain::watcher::Watcher::new(ctx.clone(), chain.clone());
        let poll = w.poll();
        worker!("chain-watcher", w, never(), poll);
        let r = crate::chain::relayer::Relayer::new(ctx.clone(), chain.clone());
        let poll = r.poll();
        worker!("chain-relayer", r, ctx.relay_wake.clone(), poll);
    }
    worker!("janitor", crate::janitor::Janitor::new(ctx.clone()), never(), crate::janitor::EVERY);
    handles
}
