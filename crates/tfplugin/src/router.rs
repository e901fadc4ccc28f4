//! Dispatches gRPC requests to the generated tonic services by path prefix
//! (`/<package>.<Service>/<Method>`), in place of tonic's own router (which would bring in
//! axum). A path that names no registered service is answered with gRPC status
//! `Unimplemented`, as any gRPC server does; unknown methods of a known service are
//! answered the same way by the generated service itself.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tower_service::Service;

type ResponseFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;
type Handler<B> = Arc<dyn Fn(http::Request<B>) -> ResponseFuture + Send + Sync>;

/// A set of gRPC services, each reached under `/<its name>/`. Cheap to clone.
pub struct Router<B> {
    routes: Arc<Vec<(String, Handler<B>)>>,
}

impl<B> Clone for Router<B> {
    fn clone(&self) -> Self {
        Router {
            routes: Arc::clone(&self.routes),
        }
    }
}

/// Collects services for a [`Router`].
pub struct RouterBuilder<B> {
    routes: Vec<(String, Handler<B>)>,
}

impl<B: Send + 'static> RouterBuilder<B> {
    /// Serves `service` under `/<S::NAME>/`.
    pub fn add<S>(mut self, service: S) -> Self
    where
        S: NamedService
            + Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let handler: Handler<B> = Arc::new(move |req| {
            // The generated services are always ready and cheap to clone; each call gets
            // its own copy so no `&mut` is shared between concurrent requests.
            let mut service = service.clone();
            Box::pin(async move {
                match service.call(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                }
            })
        });
        self.routes.push((format!("/{}/", S::NAME), handler));
        self
    }

    /// The finished router.
    pub fn build(self) -> Router<B> {
        Router {
            routes: Arc::new(self.routes),
        }
    }
}

impl<B: Send + 'static> Router<B> {
    /// An empty router.
    pub fn builder() -> RouterBuilder<B> {
        RouterBuilder { routes: Vec::new() }
    }

    /// Answers one request.
    pub fn call(&self, req: http::Request<B>) -> ResponseFuture {
        let path = req.uri().path();
        match self
            .routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        {
            Some((_, handler)) => handler(req),
            None => {
                let status = Status::unimplemented(format!("unknown service in {path}"));
                Box::pin(async move { status.into_http() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::rt;
    use std::task::{Context, Poll};

    /// A service that answers every call with its name in a header.
    #[derive(Clone)]
    struct Named;

    impl NamedService for Named {
        const NAME: &'static str = "test.Echo";
    }

    impl Service<http::Request<()>> for Named {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            let mut resp = http::Response::new(Body::empty());
            resp.headers_mut()
                .insert("x-served", req.uri().path().parse().unwrap());
            std::future::ready(Ok(resp))
        }
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).unwrap()
    }

    #[test]
    fn routes_by_service_prefix() {
        let router = Router::builder().add(Named).build();
        let resp = rt().block_on(router.call(request("/test.Echo/Say")));
        assert_eq!(resp.headers()["x-served"], "/test.Echo/Say");
        assert!(resp.headers().get("grpc-status").is_none());
    }

    #[test]
    fn unknown_service_is_unimplemented() {
        let router = Router::builder().add(Named).build();
        for path in ["/test.Other/Say", "/test.EchoX/Say", "/", "/test.Echo"] {
            let resp = rt().block_on(router.call(request(path)));
            assert!(resp.headers().get("x-served").is_none(), "{path}");
            // 12 = UNIMPLEMENTED
            assert_eq!(resp.headers()["grpc-status"], "12", "{path}");
            assert_eq!(resp.headers()["content-type"], "application/grpc");
        }
    }
}
