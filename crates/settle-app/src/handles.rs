//! What the context holds for the features below it: the data of its shared handles, defined here, at the bottom,
//! so the context imports no feature. Their behaviour lives with the feature that uses them (`impl InFlight` in
//! [`crate::card`], `impl Caller` in [`crate::merchants`]).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

/// Card charges running now, by payment id, and the tasks that run them.
#[derive(Clone, Default)]
pub struct InFlight {
    pub(crate) tasks: tokio_util::task::TaskTracker,
    pub(crate) ids: Arc<Mutex<HashSet<String>>>,
}

/// An authenticated API key: its merchant and its id (`key_<n>`, the audit log's actor).
#[derive(Clone, Debug)]
pub struct Caller(pub(crate) Arc<(String, String)>);
