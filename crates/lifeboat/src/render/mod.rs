//! The people's views more than one command prints. A view used by one command stays in that
//! command's file.

pub mod status;
