//! Tasks: a fiber driven by a smol task, with its own cwd and environment.

pub struct Task {
    pub id: u64,
}

impl Task {
    pub fn id(&self) -> u64 {
        self.id
    }
}
