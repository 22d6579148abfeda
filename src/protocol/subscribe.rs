//! `databuild/subscribe`: a snapshot's last event id, then the matching changes as they land; a
//! subscriber that falls behind is told where to resync instead of slowing ingestion.

use std::sync::Arc;

use jsonrpsee::core::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::Params;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::notices::{notice_for, Notice};
use super::parse_params;
use crate::live::{Live, Published, SubscribeParams};

fn raw(notice: &Notice) -> SubscriptionMessage {
    serde_json::value::to_raw_value(notice).expect("notices always serialize").into()
}

/// `databuild/subscribe`: first a `subscribed` notice, then the matching changes as they land.
pub(super) async fn run(params: Params<'static>, pending: PendingSubscriptionSink, live: Arc<Live>) {
    let filter: SubscribeParams = match parse_params(&params) {
        Ok(filter) => filter,
        Err(error) => return pending.reject(error).await,
    };
    let (mut rx, last_event_id) = live.subscribe();
    let loading = live.tail_status().loading;
    let Ok(sink) = pending.accept().await else { return };
    if sink.send(raw(&Notice::Subscribed { last_event_id, loading })).await.is_err() {
        return;
    }
    // Notices for events already in the snapshot the subscriber was told about are skipped.
    let mut skip_upto = last_event_id;
    loop {
        let next = tokio::select! {
            _ = sink.closed() => return,
            next = rx.recv() => next,
        };
        let published: Arc<Published> = match next {
            Ok(published) => published,
            Err(RecvError::Closed) => return,
            Err(RecvError::Lagged(missed)) => {
                // The oldest retained notice is there now: tell the subscriber where it resumes.
                let resumed = match rx.try_recv() {
                    Ok(p) => Some(p),
                    Err(TryRecvError::Lagged(_)) | Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Closed) => return,
                };
                let resync_from_event_id = resumed.as_ref().and_then(|p| p.event_id());
                let message = format!(
                    "this subscriber fell behind and {missed} notices were dropped; query again, \
                     then apply changes from event {} on",
                    resync_from_event_id.map_or_else(|| "(next)".to_string(), |id| id.to_string())
                );
                let lagged = Notice::Lagged { missed, resync_from_event_id, message };
                if sink.send(raw(&lagged)).await.is_err() {
                    return;
                }
                skip_upto = None;
                match resumed {
                    Some(p) => p,
                    None => continue,
                }
            }
        };
        if let Published::Reset { .. } = *published {
            skip_upto = None;
        }
        if let (Some(id), Some(skip)) = (published.event_id(), skip_upto) {
            if id <= skip {
                continue;
            }
            skip_upto = None;
        }
        if let Some(notice) = notice_for(&published, &filter) {
            if sink.send(raw(&notice)).await.is_err() {
                return;
            }
        }
    }
}
