//! The Docker Engine a build runs on, through its API (`bollard`): send a context, stream the
//! build's output, tag the result, push it to Berth, and clean up.
//!
//! Builds use the Engine's classic builder, which every Engine version has and which reports
//! each step as a line of text. The registry credentials are short-lived Berth registry tokens
//! handed to the Engine as `registrytoken`, so the Engine never sees a password and every
//! pull and push is checked like any client's.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

/// A connection to the Engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
}

impl Engine {
    /// Connects to `host`: `unix:///path/docker.sock`, `tcp://host:port` or `http://host:port`.
    /// `timeout` bounds every request, a whole build included.
    pub fn connect(host: &str, timeout: Duration) -> Result<Engine, String> {
        let secs = timeout.as_secs().max(60);
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_socket(path, secs, bollard::API_DEFAULT_VERSION)
        } else if let Some(rest) = host.strip_prefix("tcp://") {
            Docker::connect_with_http(
                &format!("http://{rest}"),
                secs,
                bollard::API_DEFAULT_VERSION,
            )
        } else if host.starts_with("http://") {
            Docker::connect_with_http(host, secs, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(format!(
                "builds.docker_host {host:?} must be unix:///path/to/docker.sock or tcp://host:port"
            ));
        };
        docker
            .map(|docker| Engine { docker })
            .map_err(|e| format!("builds.docker_host {host:?}: {e}"))
    }

    /// The Engine's version, to show that it answers.
    pub async fn version(&self) -> Result<String, String> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| format!("the Docker Engine does not answer: {e}"))?;
        Ok(v.version.unwrap_or_else(|| "unknown".into()))
    }

    /// Builds the context in the tar file `context` as `image`; each line of output goes to
    /// `log`. A failed step's message is the error.
    #[allow(clippy::too_many_arguments)]
    pub async fn build(
        &self,
        context: &Path,
        dockerfile: &str,
        image: &str,
        build_args: &HashMap<String, String>,
        registry: &str,
        token: Option<&str>,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), String> {
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(dockerfile)
            .t(image)
            .rm(true)
            .forcerm(true)
            .buildargs(build_args)
            .build();
        let credentials = token.map(|t| {
            HashMap::from([(
                registry.to_owned(),
                DockerCredentials {
                    serveraddress: Some(registry.to_owned()),
                    registrytoken: Some(t.to_owned()),
                    ..Default::default()
                },
            )])
        });
        let file = tokio::fs::File::open(context)
            .await
            .map_err(|e| format!("reading the build context: {e}"))?;
        let body = bollard::body_try_stream(file_stream(file));
        let mut stream = self.docker.build_image(options, credentials, Some(body));
        while let Some(item) = stream.next().await {
            let info = item.map_err(engine_error)?;
            if let Some(text) = info.stream.as_deref() {
                log(text);
            }
            if let Some(status) = info.status.as_deref() {
                log(&format!("{status}\n"));
            }
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_default();
                log(&format!("{message}\n"));
                return Err(message);
            }
        }
        Ok(())
    }

    /// Tags `image` as `repository:tag`.
    pub async fn tag(&self, image: &str, repository: &str, tag: &str) -> Result<(), String> {
        let options = TagImageOptionsBuilder::default()
            .repo(repository)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(engine_error)
    }

    /// Pushes `repository:tag` with a registry token; returns the manifest digest pushed.
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        token: &str,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, String> {
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let credentials = DockerCredentials {
            registrytoken: Some(token.to_owned()),
            ..Default::default()
        };
        let mut stream = self
            .docker
            .push_image(repository, Some(options), Some(credentials));
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(engine_error)?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_default();
                log(&format!("{message}\n"));
                return Err(message);
            }
            // Progress bars change many times a second; the log keeps the settled states.
            if let Some(status) = info.status.as_deref() {
                let busy = ["Preparing", "Waiting", "Pushing"].contains(&status);
                if info.progress_detail.is_none() && !busy {
                    log(&format!("{status}\n"));
                }
                if let Some(d) = status.split("digest: ").nth(1) {
                    digest = d.split_whitespace().next().map(str::to_owned);
                }
            }
        }
        digest.ok_or_else(|| "the Engine reported no digest for the push".to_owned())
    }

    /// Removes an image reference from the Engine (its layers stay if other tags use them).
    pub async fn remove(&self, image: &str) {
        let options = RemoveImageOptionsBuilder::default().noprune(false).build();
        if let Err(e) = self.docker.remove_image(image, Some(options), None).await {
            tracing::debug!(image, error = %e, "removing a built image");
        }
    }
}

fn engine_error(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        bollard::errors::Error::DockerStreamError { error } => error,
        e => format!("the Docker Engine: {e}"),
    }
}

/// A file's bytes as a stream, so a context is never read into memory.
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}
