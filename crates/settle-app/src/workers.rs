//! The background workers each instance runs: the outbox relay and the follower, the card rail's reconciler
//! and voider, the webhook sender, the saga workers, a watcher and a relayer per chain, and the janitor
//! (expired idempotency keys, events past their retention). Each is a [`worker::Worker`] run by its step loop; the
//! single-active ones hold a lease and give it up when they stop. The composition root spawns them ([`spawn`]) and
//! waits for them at shutdown within one bound ([`join`]).

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{Context, outbox, worker};

/// Starts this instance's background workers on `ctx`; they stop when `stop` turns true.
pub fn spawn(ctx: &Context, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    let never = || Arc::new(Notify::new());
    let mut run = |handle: JoinHandle<()>| handles.push(handle);
    run(worker::spawn(ctx, outbox::Relay::new(ctx.clone()), ctx.outbox_wake.clone(), ctx.settings.outbox_poll, stop.clone()));
    run(worker::spawn(ctx, crate::follower::Follower::new(ctx.clone()), ctx.follow_wake.clone(), ctx.settings.follow_poll, stop.clone()));
    match crate::webhooks::Sender::new(ctx.clone()) {
        Ok(s) => run(worker::spawn(ctx, s, ctx.webhook_wake.clone(), ctx.settings.webhooks.poll, stop.clone())),
        Err(e) => tracing::error!(error = %e, "webhooks cannot be sent"),
    }
    if ctx.pg.is_some() {
        run(worker::spawn(ctx, crate::card::Reconciler::new(ctx.clone()), never(), ctx.settings.card.poll, stop.clone()));
        run(worker::spawn(ctx, crate::card::Voider::new(ctx.clone()), never(), ctx.settings.card.poll, stop.clone()));
    }
    // Every handler of the choreography emits its next event, so the dispatcher wakes on each publication
    // (and polls for events another instance's relay published).
    let (chor_wake, nats_wake) = (never(), never());
    let (bridge_wake, nats_bridge, mut published, mut bridge_stop) = (chor_wake.clone(), nats_wake.clone(), ctx.published.subscribe(), stop.clone());
    run(tokio::spawn(async move {
        loop {
            tokio::select! {
                r = published.changed() => if r.is_err() { break } else { bridge_wake.notify_one(); nats_bridge.notify_one() },
                _ = bridge_stop.changed() => break,
            }
        }
    }));
    if let Some(n) = &ctx.settings.nats {
        run(worker::spawn(ctx, crate::nats::Publisher::new(ctx.clone(), n.clone()), nats_wake, Duration::from_millis(500), stop.clone()));
    }
    run(worker::spawn(ctx, crate::orders::Choreographer::new(ctx.clone()), chor_wake, Duration::from_millis(200), stop.clone()));
    run(worker::spawn(ctx, crate::orders::SagaWorker::new(ctx.clone()), never(), Duration::from_millis(500), stop.clone()));
    for chain in ctx.chains.0.iter() {
        let w = crate::chain::watcher::Watcher::new(ctx.clone(), chain.clone());
        let poll = w.poll();
        run(worker::spawn(ctx, w, never(), poll, stop.clone()));
        let r = crate::chain::relayer::Relayer::new(ctx.clone(), chain.clone());
        let poll = r.poll();
        run(worker::spawn(ctx, r, ctx.relay_wake.clone(), poll, stop.clone()));
    }
    run(worker::spawn(ctx, crate::janitor::Janitor::new(ctx.clone()), never(), crate::janitor::EVERY, stop));
    handles
}

/// Waits for stopped workers (each gives up its lease as it stops), all together, within `bound`.
pub async fn join(handles: Vec<JoinHandle<()>>, bound: Duration) {
    if tokio::time::timeout(bound, futures::future::join_all(handles)).await.is_err() {
        tracing::warn!(after = ?bound, "some workers did not stop in time; their leases lapse by themselves");
    }
}

/// Each worker's name, whether it writes, its step and what it releases.
macro_rules! workers {
    ($($ty:ty => $name:literal, $writes:literal, $err:ty;)*) => {$(
        impl worker::Worker for $ty {
            const NAME: &'static str = $name;
            const WRITES: bool = $writes;
            type Error = $err;
            fn step(&self) -> impl std::future::Future<Output = Result<worker::Outcome, $err>> + Send {
                self.run_once()
            }
            fn release(&self) -> impl std::future::Future<Output = ()> + Send {
                <$ty>::release(self)
            }
        }
    )*};
}

workers! {
    outbox::Relay => "outbox-relay", true, settle_store::StoreError;
    crate::follower::Follower => "follower", false, settle_store::StoreError;
    crate::webhooks::Sender => "webhook-sender", true, settle_store::StoreError;
    crate::card::Reconciler => "card-reconciler", true, settle_store::StoreError;
    crate::card::Voider => "card-voider", true, settle_store::StoreError;
    crate::nats::Publisher => "nats-publisher", true, crate::nats::NatsError;
    crate::orders::Choreographer => "saga-choreography", true, crate::AppError;
    crate::orders::SagaWorker => "saga-recovery", true, crate::AppError;
    crate::chain::watcher::Watcher => "chain-watcher", true, crate::chain::watcher::WatchError;
    crate::chain::relayer::Relayer => "chain-relayer", true, crate::chain::relayer::RelayError;
    crate::janitor::Janitor => "janitor", true, settle_store::StoreError;
}
