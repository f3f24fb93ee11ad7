//! Content trust is another crate's: the registry only knows when to ask it. A
//! [`ContentTrust`] serves the Notary API under `/v2/<gun>/_trust/tuf/` and decides whether a
//! manifest may be pulled under a signed-only policy. Without one, the trust API answers
//! `UNSUPPORTED` and every manifest may be pulled.
//!
//! Its futures need not be `Send`: they run on the request's own worker, with its request and
//! body.

use actix_web::{web, HttpRequest, HttpResponse};
use async_trait::async_trait;

use crate::error::Result;
use crate::Registry;

#[async_trait(?Send)]
pub trait ContentTrust: Send + Sync {
    /// Everything under `/v2/<gun>/_trust/tuf/`: `rest` is what follows that prefix.
    async fn serve(
        &self,
        registry: &Registry,
        req: &HttpRequest,
        payload: web::Payload,
        gun: &str,
        rest: &str,
    ) -> Result<HttpResponse>;

    /// Refuses (with the registry error to send) a pull of the manifest `digest` of
    /// `repository`, whose bytes are `content`, that a signed-only policy forbids.
    async fn check_pull(
        &self,
        registry: &Registry,
        repository: &str,
        digest: &str,
        content: &[u8],
    ) -> Result<()>;
}
