//! Headers every page carries, and error pages drawn with the viewer's own header.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpMessage;

use super::{Chrome, PageError};

/// No inline script or style anywhere, so the policy needs no `'unsafe-inline'`.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: https:; style-src 'self'; \
    script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub fn wrap<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let fut = srv.call(req);
    async move {
        let res = fut.await?.map_into_boxed_body();
        // An error page rendered without knowing the viewer is drawn again with their header.
        let redrawn = {
            let error = res
                .response()
                .error()
                .and_then(|e| e.as_error::<PageError>());
            let chrome = res.request().extensions().get::<Chrome>().cloned();
            match (error, chrome) {
                (Some(e), Some(chrome)) => Some(e.page(&chrome)),
                _ => None,
            }
        };
        let mut res = match redrawn {
            Some(page) => res.into_response(page),
            None => res,
        };
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !h.contains_key(header::CACHE_CONTROL) {
            // Pages show who is signed in and carry CSRF tokens: never for shared caches.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            );
        }
        Ok(res)
    }
}
