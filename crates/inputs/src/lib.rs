//! Files named on the command line, read with a bound.
//!
//! lifeboat runs on a control-plane node next to etcd and the API server. A flag pointed at
//! `/dev/zero`, a FIFO or a 20 GiB file by mistake must not grow the process until the kernel's
//! OOM killer picks a victim, which may be etcd. So every file read from a flag goes through
//! here: its type is checked (a regular file, unless the caller streams it), its size is
//! checked against a limit chosen for that kind of input, and the read itself stops at the
//! limit even when the size the kernel reports is wrong (procfs, sysfs).
//!
//! # Layout
//! - [`Kind`]: a kind of input with its limit and its name in errors (`policy file`, ...).
//! - [`read`], [`read_to_string`]: a whole file, bounded.
//! - [`open_regular`]: a file the caller streams itself (snapshots): type checked, not read.
//! - [`walk`]: the files of a folder tree, staying inside it, symlink loops detected.
//! - [`InputError`]: what went wrong, naming the path, the kind and the next step.

mod error;
mod kind;
mod read;
mod walk;

pub use error::{InputError, Problem};
pub use kind::Kind;
pub use read::{open_regular, read, read_to_string};
pub use walk::walk;
