//! The body of a browser form upload (POST Object), shown to
//! [`tandem_s3::post_form::PostForm`] as it streams into s3s, so the S3 layer
//! can read the form fields s3s does not pass on. Nothing is held back: each
//! frame goes on as it arrives; the sniffer keeps at most a bounded prefix.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tandem_s3::post_form::PostForm;

/// A form body whose beginning is shown to its [`PostForm`].
pub struct ObservedForm<B> {
    inner: B,
    form: PostForm,
}

impl<B> ObservedForm<B> {
    pub fn new(inner: B, form: PostForm) -> Self {
        Self { inner, form }
    }
}

impl<B> Body for ObservedForm<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.form.observe(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
