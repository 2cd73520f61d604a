//! ferrocom's protocol spec language.
pub mod model;
