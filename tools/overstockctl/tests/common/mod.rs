//! `overstockctl console` as an operator starts it (the built binary), for the console's tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_overstockctl");

/// A running console: its address and the one-time URL it printed; stopped when dropped.
pub struct Console {
    pub base: String,
    pub login: String,
    child: Child,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `overstockctl console --port 0` with `env` added to this process's environment and
/// reads the URL it prints on its first line.
pub fn start(env: &[(&str, &str)]) -> Console {
    let mut cmd = Command::new(BIN);
    cmd.args(["console", "--port", "0"]).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut login = String::new();
    BufReader::new(stdout).read_line(&mut login).unwrap_or_else(|e| panic!("{e}"));
    let login = login.trim().to_owned();
    let base = login.split("/login").next().unwrap_or_default().to_owned();
    Console { base, login, child }
}
