//! go-plugin's own services: `plugin.GRPCController` (Shutdown ends the process),
//! `plugin.GRPCStdio` (a stream that stays open and sends nothing: we never write to
//! stdout) and `plugin.GRPCBroker` (accepted and kept open; tfplugin6 does not use it).
//! All streams end when shutdown begins, so graceful shutdown is not held up by them.

use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::debug;

use super::proto::plugin as pb;

/// Serves `Shutdown`: cancels `shutdown`, which stops the server.
#[derive(Debug, Clone)]
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        debug!("Shutdown requested by Terraform");
        self.shutdown.cancel();
        Ok(Response::new(pb::Empty {}))
    }
}

/// A stream that yields nothing and ends at shutdown.
fn idle_stream<T: Send + 'static>(shutdown: &CancellationToken) -> BoxStream<T> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<T, Status>>(1);
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tx.closed() => {}
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Serves `StreamStdio`.
#[derive(Debug, Clone)]
pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<BoxStream<pb::StdioData>>, Status> {
        Ok(Response::new(idle_stream(&self.shutdown)))
    }
}

/// Serves `StartStream`.
#[derive(Debug, Clone)]
pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(
        &self,
        request: Request<Streaming<pb::ConnInfo>>,
    ) -> Result<Response<BoxStream<pb::ConnInfo>>, Status> {
        let mut incoming = request.into_inner();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    msg = incoming.message() => match msg {
                        Ok(Some(info)) => debug!(service_id = info.service_id, "Ignoring broker message"),
                        _ => break,
                    },
                }
            }
        });
        Ok(Response::new(idle_stream(&self.shutdown)))
    }
}
