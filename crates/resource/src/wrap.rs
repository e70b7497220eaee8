//! The `Layer` half of this crate's middleware, written once.
//!
//! Each layer here (`RequireBearerLayer`, `OriginGuardLayer`, `SessionLimitLayer`) holds one shared
//! `Arc` and makes a service that is the inner service plus a clone of that `Arc`; only the
//! `Service` impls differ. [`layer_service!`] writes the service struct and the `Layer` impl.

/// Declares `pub struct $service<S> { inner: S, $field: Arc<$shared> }` (with the given doc
/// attributes) and `impl Layer<S> for $layer`, which clones `$layer.$field` into each service.
macro_rules! layer_service {
    ($(#[$meta:meta])* $layer:ident => $service:ident { $field:ident: $shared:ty }) => {
        impl<S> tower::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> $service<S> {
                $service { inner, $field: self.$field.clone() }
            }
        }

        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $service<S> {
            inner: S,
            $field: std::sync::Arc<$shared>,
        }
    };
}
pub(crate) use layer_service;
