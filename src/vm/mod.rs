//! The virtual machine: values, compiled code, and fibers that halt instead
//! of blocking.
pub mod budget;
pub mod chars;
pub mod chunk;
pub mod disasm;
pub mod error;
pub mod fiber;
pub mod frame;
pub mod globals;
pub mod halt;
pub mod list;
pub mod objects;
pub mod ops;
pub mod shell_ops;
pub mod trash;
pub mod value;
pub mod walk;
