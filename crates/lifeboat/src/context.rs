//! What every command is given: how to print and how to reach etcd. Its own module so that
//! commands depend on it, not on the command tree in `cli` that dispatches to them.

use crate::connection::ConnectionArgs;
use crate::output::{Format, OutputArg};

/// Shared by every command: how to print and how to reach etcd.
pub struct Context {
    pub format: Format,
    /// `-o` as given (`txt`/`dot` only reach `policy connectivity`).
    pub requested: OutputArg,
    pub connection: ConnectionArgs,
}
