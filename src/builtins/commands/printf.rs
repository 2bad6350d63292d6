//! `printf FORMAT ARGS...`: POSIX printf through the engine shared with
//! `format()` (`builtins::format`): `%d %i %u %o %x %X %e %f %g %a %s %b
//! %c %%`, flags `-+ 0#`, width, precision, `*`; escapes in the format;
//! the format is reused while arguments remain, as in sh.

use super::{BuiltinCtx, Output};
use crate::builtins::format::{Mode, format};
use crate::vm::error::Error;
use crate::vm::value::Value;

/// A bad number prints a message and makes the status 1; a bad format or
/// a width or precision past the cap prints the reason and fails with
/// status 1, printing nothing.
pub(super) fn builtin_printf(_: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let Some(fmt) = args.get(1) else {
        return Ok(Output::fail(
            "printf",
            "usage: printf FORMAT [ARGUMENTS...]",
            2,
        ));
    };
    match format(&fmt.to_bytes()?, &args[2..], Mode::Printf) {
        Ok(done) => {
            let mut stderr = Vec::new();
            for w in &done.warnings {
                stderr.extend_from_slice(w.as_bytes());
                stderr.push(b'\n');
            }
            Ok(Output {
                status: i32::from(!done.warnings.is_empty()),
                stdout: done.out,
                stderr,
                exit: None,
            })
        }
        Err(e) => Ok(Output::fail(
            "printf",
            e.message.trim_start_matches("printf: "),
            1,
        )),
    }
}
