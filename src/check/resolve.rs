//! The end of the walk: global names resolved against the script's
//! top-level definitions, the `use`d modules and the built-ins, then the
//! checks that needed every definition (`unknown-name`, `unused`, `arity`,
//! `never-awaited`, `unbounded-gather`, `unknown-command`), with their
//! messages.

use std::collections::HashSet;

use crate::ast::Span;

use super::modules::Outside;
use super::shape::{Defined, Facts, Global, Shape, Stored, Val};
use super::walk::{Binding, Deferred, Kind, Use, Walker, is_env_name};
use super::{Finding, Lint};

impl Walker<'_> {
    pub(super) fn finish(mut self) -> Vec<Finding> {
        // The modules' names, the prelude's last (a script may redefine them).
        let mut incomplete = self.uses_source;
        let uses = std::mem::take(&mut self.uses);
        let mut module_defs = Vec::new();
        for path in &uses {
            let loaded = self.env.load(path);
            incomplete |= loaded.incomplete;
            module_defs.extend(loaded.defs.iter().cloned());
        }
        for d in module_defs {
            self.module_binding(&d.name, d.val);
        }
        let prelude: Vec<_> = self.env.prelude().to_vec();
        for d in prelude {
            if !self.globals.contains_key(&d.name) {
                self.module_binding(&d.name, d.val);
            }
        }
        // Global uses: reads, stores, commands.
        let uses = std::mem::take(&mut self.global_uses);
        let mut unknown_commands = Vec::new();
        for u in &uses {
            let found = self.globals.get(&u.name).cloned();
            match (&u.what, found) {
                (Use::Read | Use::Command, Some(ids)) => {
                    for b in ids {
                        self.bindings[b].reads += 1;
                    }
                }
                (Use::Assign(shape, loops), Some(ids)) => {
                    for b in ids {
                        self.bindings[b]
                            .stored
                            .values
                            .push((shape.clone(), loops.clone()));
                    }
                }
                (Use::Push(shape, loops), Some(ids)) => {
                    for b in ids {
                        self.bindings[b].reads += 1;
                        self.bindings[b]
                            .stored
                            .pushes
                            .push((shape.clone(), loops.clone()));
                    }
                }
                (Use::Command, None) => unknown_commands.push((u.name.clone(), u.span)),
                (Use::Read | Use::Push(..), None) => {
                    if !incomplete
                        && self.env.outside(&u.name).is_none()
                        && !self.exports.contains(&u.name)
                        && !is_env_name(&u.name)
                    {
                        self.unknown_name(&u.name, u.span, false);
                    }
                }
                (Use::Assign(..), None) => {
                    if !incomplete {
                        self.unknown_name(&u.name, u.span, true);
                    }
                }
            }
        }
        if self.cx.check_path {
            self.unknown_commands(unknown_commands);
        }
        let deferred = std::mem::take(&mut self.deferred);
        for d in deferred {
            self.deferred_check(d);
        }
        self.unused();
        self.findings
    }

    fn module_binding(&mut self, name: &str, val: Val) {
        let id = self.bindings.len();
        self.bindings.push(Binding {
            name: name.to_string(),
            span: Span::default(),
            kind: Kind::Module,
            reads: 0,
            stored: Stored {
                values: vec![(Shape::Val(val), Vec::new())],
                pushes: Vec::new(),
            },
            frame: 0,
            loops: 0,
            group: None,
        });
        self.globals.entry(name.to_string()).or_default().push(id);
    }

    fn unknown_name(&mut self, name: &str, span: Span, assigned: bool) {
        // A variable of that name declared elsewhere: out of scope here.
        if self.by_name.is_empty() {
            for (id, b) in self.bindings.iter().enumerate() {
                if b.kind != Kind::Module {
                    self.by_name.entry(b.name.clone()).or_default().push(id);
                }
            }
        }
        let elsewhere = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&b| &self.bindings[b])
            .min_by_key(|b| b.span.start.abs_diff(span.start))
            .map(|b| (b.span, b.kind));
        let message = if assigned {
            format!("`{name}` is assigned but never declared")
        } else {
            format!("`{name}` is not defined")
        };
        let help = match elsewhere {
            Some((at, _)) if at.start > span.start => format!(
                "`{name}` is declared later, at {}: declare it before its first use",
                self.line_col(at)
            ),
            Some((at, Kind::Opaque)) => format!(
                "the `{name}` declared at {} exists only inside its loop, function or `catch`",
                self.line_col(at)
            ),
            Some((at, _)) => format!(
                "the `{name}` declared at {} belongs to a block that has ended here (a variable lives in its `{{ }}` block): declare it before the block, `let {name} = null`, and assign it inside",
                self.line_col(at)
            ),
            None => match self.similar(name) {
                Some(s) => format!("did you mean `{s}`?"),
                None if assigned && is_env_name(name) => {
                    format!("to set an environment variable, write `export {name} = ...`")
                }
                None if assigned => format!("declare it first: `let {name} = ...`"),
                None => format!(
                    "declare it with `let {name} = ...`; an environment variable in lower case is read with `getenv(\"{name}\")`"
                ),
            },
        };
        self.warn(Lint::UnknownName, span, message, help);
    }

    /// A defined name one or two edits away (computed once per name, and
    /// for at most `MAX_SUGGESTED` names: a file full of unknown names is
    /// not worth a quadratic search).
    fn similar(&mut self, name: &str) -> Option<String> {
        const MAX_SUGGESTED: usize = 200;
        if let Some(s) = self.similar_memo.get(name) {
            return s.clone();
        }
        if self.similar_memo.len() >= MAX_SUGGESTED || name.len() < 3 {
            return None;
        }
        if self.by_length.is_empty() {
            let builtins = crate::builtins::functions::FUNCTIONS.iter().map(|f| f.name);
            let names: HashSet<&str> = self
                .bindings
                .iter()
                .map(|b| b.name.as_str())
                .chain(builtins)
                .chain(["args", "script", "status"])
                .collect();
            for n in names {
                self.by_length
                    .entry(n.len())
                    .or_default()
                    .push(n.to_string());
            }
        }
        let limit = if name.len() > 5 { 2 } else { 1 };
        let mut best: Option<(usize, &String)> = None;
        for len in name.len() - limit..=name.len() + limit {
            for c in self.by_length.get(&len).into_iter().flatten() {
                let d = edit_distance(name, c);
                if d > 0 && d <= limit && best.is_none_or(|(bd, bc)| (d, c) < (bd, bc)) {
                    best = Some((d, c));
                }
            }
        }
        let found = best.map(|(_, s)| s.clone());
        self.similar_memo.insert(name.to_string(), found.clone());
        found
    }

    fn unknown_commands(&mut self, commands: Vec<(String, Span)>) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<_> = std::env::split_paths(&path).collect();
        let mut seen = HashSet::new();
        for (name, span) in commands {
            if name == "read" || crate::builtins::commands::lookup(&name).is_some() {
                continue;
            }
            let found = seen.contains(&name)
                || dirs.iter().any(|d| {
                    let p = d.join(&name);
                    std::fs::metadata(&p).is_ok_and(|m| {
                        use std::os::unix::fs::PermissionsExt;
                        m.is_file() && m.permissions().mode() & 0o111 != 0
                    })
                });
            if found {
                seen.insert(name);
                continue;
            }
            self.warn(
                Lint::UnknownCommand,
                span,
                format!(
                    "`{name}` is not a function of the script, a builtin, or a program on this machine's PATH"
                ),
                "check the spelling, or install the program (this warning comes only with `--path`)"
                    .into(),
            );
        }
    }

    fn deferred_check(&mut self, d: Deferred) {
        match d {
            Deferred::Dropped {
                shape,
                span,
                command,
            } => {
                let text = self.short(span);
                match self.eval(&shape) {
                    Val::Coroutine if command => self.warn(
                        Lint::NeverAwaited,
                        span,
                        format!(
                            "`{text}` calls an `async fn`, which only makes a coroutine; it is dropped without running"
                        ),
                        format!("run it: `await {}`, or start it as a task: `spawn {text}`", call_form(&text)),
                    ),
                    Val::Coroutine => self.warn(
                        Lint::NeverAwaited,
                        span,
                        format!("the coroutine made by `{text}` is dropped without running"),
                        format!("run it: `await {text}`, or start it as a task: `spawn {text}`"),
                    ),
                    Val::List { elem, .. } if *elem == Val::Coroutine => self.warn(
                        Lint::NeverAwaited,
                        span,
                        format!("the coroutines made by `{text}` are dropped without running"),
                        format!("run them: `gather -j 8 ({text})`"),
                    ),
                    _ => {}
                }
            }
            Deferred::Arity {
                callee,
                name,
                given,
                splices,
                command,
                span,
            } => match self.eval(&callee) {
                Val::Func(sig) => {
                    let too_many = !sig.rest && given > sig.params;
                    let too_few = !splices && given < sig.params;
                    if too_many || too_few {
                        let name = sig.name.clone().unwrap_or(name);
                        let takes = if sig.rest {
                            format!("at least {}", plural(sig.params))
                        } else {
                            plural(sig.params)
                        };
                        let given_text = if splices {
                            format!("at least {given}")
                        } else {
                            given.to_string()
                        };
                        self.warn(
                            Lint::Arity,
                            span,
                            format!("`{name}` takes {takes}, but this call gives {given_text}"),
                            match &sig.defined {
                                Defined::Here(span) => {
                                    format!("see its definition at {}", self.line_col(*span))
                                }
                                Defined::In(module) => format!("see its definition in {module}"),
                            },
                        );
                    }
                }
                Val::Builtin(b) if !command => {
                    if let Some(takes) = super::arity::of(b)
                        && !takes.accepts(given)
                    {
                        self.warn(
                            Lint::Arity,
                            span,
                            format!(
                                "`{b}` takes {}, but this call gives {given}",
                                takes.describe()
                            ),
                            format!("`{b}` is a built-in function (see docs/builtins.md)"),
                        );
                    }
                }
                _ => {}
            },
            Deferred::Gather { shape, span } => {
                if let Val::List { input: true, elem } = self.eval(&shape)
                    && *elem == Val::Coroutine
                {
                    let text = self.short(span);
                    let branch = if text.starts_with('$') {
                        text.clone()
                    } else {
                        format!("({text})")
                    };
                    self.warn(
                        Lint::UnboundedGather,
                        span,
                        format!(
                            "`gather` starts every coroutine of `{text}` at once, and how many there are comes from input"
                        ),
                        format!("bound the concurrency: `gather -j 8 {branch}` runs at most 8 at a time"),
                    );
                }
            }
        }
    }

    /// `let` variables never read; tasks kept in none.
    fn unused(&mut self) {
        let used_groups: HashSet<usize> = self
            .bindings
            .iter()
            .filter(|b| b.reads > 0)
            .filter_map(|b| b.group)
            .collect();
        let mut found = Vec::new();
        for (id, b) in self.bindings.iter().enumerate() {
            if b.kind != Kind::Let || b.reads > 0 || b.name.starts_with('_') {
                continue;
            }
            // Part of a destructuring `let` whose other names are read.
            if b.group.is_some_and(|g| used_groups.contains(&g)) {
                continue;
            }
            // A `source`d file runs in the script's scope and may read
            // what its top level defines.
            let top = self
                .globals
                .get(&b.name)
                .is_some_and(|ids| ids.contains(&id));
            if top && self.uses_source {
                continue;
            }
            let first = b.stored.values.first().map(|(s, _)| s.clone());
            found.push((id, first));
        }
        for (id, first) in found {
            let (name, span) = (self.bindings[id].name.clone(), self.bindings[id].span);
            let val = first.map_or(Val::Unknown, |s| self.eval(&s));
            match val {
                Val::Coroutine => self.warn(
                    Lint::NeverAwaited,
                    span,
                    format!("the coroutine in `{name}` is never awaited, spawned or gathered: it never runs"),
                    format!("run it where its result is needed: `await ${name}` (or `spawn ${name}`, `gather ${name}`)"),
                ),
                Val::List { elem, .. } if *elem == Val::Coroutine => self.warn(
                    Lint::NeverAwaited,
                    span,
                    format!("the coroutines in `{name}` are never awaited or gathered: they never run"),
                    format!("run them where their results are needed: `gather ${name}`"),
                ),
                Val::Task => self.warn(
                    Lint::Unused,
                    span,
                    format!("the task in `{name}` is never awaited, cancelled or kept: when the script ends it is cancelled, and its errors are lost"),
                    format!("`await ${name}` where its work must be done (or `cancel ${name}`)"),
                ),
                Val::List { elem, .. } if *elem == Val::Task => self.warn(
                    Lint::Unused,
                    span,
                    format!("the tasks in `{name}` are never awaited, cancelled or kept: when the script ends they are cancelled, and their errors are lost"),
                    format!("`gather ${name}` where their work must be done"),
                ),
                _ => self.warn(
                    Lint::Unused,
                    span,
                    format!("`{name}` is never read"),
                    format!("remove it, or name it `_{name}` if it is meant to be unused"),
                ),
            }
        }
    }

    fn eval(&self, shape: &Shape) -> Val {
        Facts::eval(self, shape)
    }
}

impl Facts for Walker<'_> {
    fn stored(&self, binding: usize) -> Option<&Stored> {
        let b = self.bindings.get(binding)?;
        (b.kind != Kind::Opaque).then_some(&b.stored)
    }

    fn global(&self, name: &str) -> Global {
        if let Some(ids) = self.globals.get(name) {
            return Global::Bindings(ids.clone());
        }
        match self.env.outside(name) {
            Some(Outside::Builtin(b)) => Global::Val(Val::Builtin(b)),
            Some(Outside::Args) => Global::Val(Val::List {
                input: true,
                elem: Box::new(Val::Other),
            }),
            Some(Outside::Special) => Global::Val(Val::Other),
            None => Global::Val(Val::Unknown),
        }
    }
}

/// `f a b` as the call `f(a, b)` (for a suggestion).
fn call_form(command: &str) -> String {
    let mut parts = command.split_whitespace();
    let name = parts.next().unwrap_or("");
    let args: Vec<&str> = parts.collect();
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with('$') || a.starts_with('"') || a.parse::<f64>().is_ok() {
                a.trim_start_matches('$').to_string()
            } else {
                format!("\"{a}\"")
            }
        })
        .collect();
    format!("{name}({})", quoted.join(", "))
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 argument".into()
    } else {
        format!("{n} arguments")
    }
}

/// Edit distance with transpositions (optimal string alignment), for "did
/// you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}
