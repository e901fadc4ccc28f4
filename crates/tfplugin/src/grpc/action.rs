//! `InvokeAction`'s event stream. The provider runs in its own task; each message it sends
//! through [`ActionProgress`] becomes a `progress` event, and the stream always ends with
//! exactly one `completed` event carrying the final diagnostics (Terraform rejects a stream
//! without events). When Terraform stops reading (the call was cancelled or the connection
//! dropped) the invocation's token is cancelled, as it is by `StopProvider`. Once the token is
//! cancelled, progress messages are dropped (logged only): an interrupted Terraform (1.14,
//! 1.15) stops its loop over the events at the first progress event it receives after the
//! interrupt and then crashes on the next one ("range function continued iteration"), so
//! only `completed` may follow.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codegen::BoxStream;
use tracing::{Span, debug};

use super::Traced;
use super::convert::diags_to_pb;
use crate::diag::{Diagnostic, Diagnostics};
use crate::proto::tfplugin6 as pb;
use crate::provider::{ActionProgress, CancellationToken, InvokeActionRequest, Provider};

type Event = pb::invoke_action::Event;

/// Events buffered between the provider task and the gRPC stream.
const EVENT_BUFFER: usize = 16;

fn progress(message: String) -> Event {
    use pb::invoke_action::event::{Progress, Type};
    Event {
        r#type: Some(Type::Progress(Progress { message })),
    }
}

fn completed(diagnostics: Diagnostics) -> Event {
    use pb::invoke_action::event::{Completed, Type};
    Event {
        r#type: Some(Type::Completed(Completed {
            diagnostics: diags_to_pb(diagnostics),
        })),
    }
}

/// A stream of one `completed` event carrying `d` (unknown action, undecodable config).
pub(super) fn failed(d: Diagnostic) -> BoxStream<Event> {
    Box::pin(tokio_stream::once(Ok(completed(d.into()))))
}

/// Starts `provider.invoke_action` in its own task and returns its event stream.
pub(super) fn invoke<P: Provider>(
    provider: Arc<P>,
    req: InvokeActionRequest,
    cancel: CancellationToken,
    span: Span,
) -> BoxStream<Event> {
    let (tx, rx) = mpsc::channel::<Result<Event, Status>>(EVENT_BUFFER);
    tokio::spawn(async move {
        let (sink, mut messages) = ActionProgress::channel();
        let run = provider
            .invoke_action(req, sink, cancel.clone())
            .traced(span);
        tokio::pin!(run);
        let diagnostics = loop {
            tokio::select! {
                // progress first, so that every message precedes `completed`
                biased;
                Some(message) = messages.recv() => {
                    if cancel.is_cancelled() {
                        debug!(message, "progress after the cancellation, not sent");
                    } else if tx.send(Ok(progress(message))).await.is_err() {
                        cancel.cancel();
                    }
                }
                () = tx.closed(), if !cancel.is_cancelled() => {
                    debug!("Terraform stopped reading the action's events; cancelling it");
                    cancel.cancel();
                }
                diagnostics = &mut run => break diagnostics,
            }
        };
        while let Ok(message) = messages.try_recv() {
            if cancel.is_cancelled() {
                debug!(message, "progress after the cancellation, not sent");
            } else {
                let _ = tx.send(Ok(progress(message))).await;
            }
        }
        let _ = tx.send(Ok(completed(diagnostics))).await;
    });
    Box::pin(ReceiverStream::new(rx))
}
