//! One file per endpoint.

pub mod authorize;
pub mod consent;
pub mod device;
pub mod device_authorization;
pub mod dpop;
pub mod form;
pub mod introspect;
pub mod limits;
pub mod login;
pub mod metadata;
pub mod metrics;
pub mod page_form;
pub mod par;
pub mod register;
pub mod revoke;
pub mod token;
pub mod upstream;
