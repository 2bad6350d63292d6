//! A real OpenSSH server for the remote tests, on loopback addresses only.
//!
//! Started once per test binary: `sshd -D -e` (from `openssh-server`) as
//! a non-daemon child, on a free port of 127.0.0.2-127.0.0.N, with a host
//! key and an authorized client key generated into a temporary directory,
//! and a generated `ssh_config` naming the hosts. It stops when the test
//! binary exits: a small `sh` wrapper kills it when its stdin (a pipe the
//! test binary holds) closes. The server allows one session per
//! connection (`MaxSessions 1`): ash never needs more. Sessions get a
//! `HOME` of their own (an empty directory), so the machine's ~/.bashrc
//! and ~/.cache stay out of the tests.
//!
//! Hosts (all reached with `ASH_SSH="ssh -F <dir>/ssh_config"`):
//! - `h1`..`h4`: 127.0.0.2-5, with this test build's `ash` first on `PATH`;
//! - `bare`: 127.0.0.6, without ash on `PATH` and with its own
//!   `XDG_CACHE_HOME` (ash copies itself there);
//! - `oldash`: 127.0.0.7, whose `ash` on `PATH` speaks another protocol;
//! - `down`, `down2`: 127.0.0.9 and 127.0.0.10, where nothing listens;
//! - `badkey`: h1 with a `known_hosts` that does not know its key;
//! - `noauth`: h1 with a client key the server does not accept.
//!
//! A test that needs the server fails (it does not skip) when the server
//! cannot start: `.ci/run` installs `openssh-server` when it is missing.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Sshd {
    /// `ASH_SSH` for the ash under test.
    pub ash_ssh: String,
    /// `XDG_CACHE_HOME` of the host `bare`.
    pub bare_cache: PathBuf,
    /// The wrapper; its stdin, held here, keeps the server running.
    _wrapper: Mutex<Child>,
}

/// The loopback addresses the server listens on (127.0.0.2 ..).
const LISTEN: u8 = 6;

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sshd_binary() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "the remote tests need OpenSSH's server (sshd): install openssh-server (.ci/run does, as root)"
    );
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
}

fn addr(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// A port free on 127.0.0.2 (and, in practice, on the other addresses).
fn free_port() -> u16 {
    TcpListener::bind((addr(2), 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.2")
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn sshd() -> &'static Sshd {
    static SSHD: OnceLock<Sshd> = OnceLock::new();
    SSHD.get_or_init(start)
}

fn start() -> Sshd {
    let sshd = sshd_binary();
    let dir = std::env::temp_dir().join(format!("ash-sshd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ash = PathBuf::from(env!("CARGO_BIN_EXE_ash"));
    let ash_dir = ash.parent().expect("ash's directory").to_path_buf();
    keygen(&dir.join("hostkey"));
    keygen(&dir.join("client"));
    keygen(&dir.join("stranger"));
    std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).expect("authorized_keys");
    // An ash on PATH that speaks another protocol (for `oldash`).
    let fake = dir.join("fake");
    std::fs::create_dir_all(&fake).expect("fake dir");
    std::fs::write(
        fake.join("ash"),
        "#!/bin/sh\ncase \"$1\" in\n--version) echo 'ash 9.9.9' ;;\n--serve) echo 'ASH-AGENT 999 9.9.9 linux x86_64'; cat > /dev/null ;;\nesac\n",
    )
    .expect("fake ash");
    run(Command::new("chmod").arg("755").arg(fake.join("ash")));
    let bare_cache = dir.join("cache-bare");
    // The sessions' home: the machine's own (its ~/.bashrc, its caches) is
    // left alone.
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home dir");
    // sshd's privilege separation directory (as root).
    let _ = std::fs::create_dir_all("/run/sshd");
    let me = user();
    let host_pub = std::fs::read_to_string(dir.join("hostkey.pub")).expect("host key");
    let mut last_error = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let mut config = String::new();
        for n in 2..2 + LISTEN {
            config.push_str(&format!("ListenAddress {}:{port}\n", addr(n)));
        }
        config.push_str(&format!(
            "HostKey {dir}/hostkey\nAuthorizedKeysFile {dir}/authorized_keys\nPidFile none\n\
             UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nMaxSessions 1\nLogLevel ERROR\n\
             SetEnv PATH={ash_dir}:/usr/bin:/bin HOME={home}\n\
             Match LocalAddress 127.0.0.6\n  SetEnv PATH=/usr/bin:/bin HOME={home} XDG_CACHE_HOME={bare}\n\
             Match LocalAddress 127.0.0.7\n  SetEnv PATH={fake}:/usr/bin:/bin HOME={home}\n",
            dir = dir.display(),
            ash_dir = ash_dir.display(),
            bare = bare_cache.display(),
            fake = fake.display(),
            home = home.display(),
        ));
        std::fs::write(dir.join("sshd_config"), config).expect("sshd_config");
        let mut known = String::new();
        for n in 2..2 + LISTEN {
            known.push_str(&format!("[{}]:{port} {host_pub}", addr(n)));
        }
        std::fs::write(dir.join("known_hosts"), known).expect("known_hosts");
        std::fs::write(dir.join("empty_known_hosts"), "").expect("known_hosts");
        let mut client = String::new();
        let host = |name: &str, n: u8| format!("Host {name}\n  HostName {}\n", addr(n));
        for (i, name) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
            client.push_str(&host(name, 2 + i as u8));
        }
        client.push_str(&host("bare", 6));
        client.push_str(&host("oldash", 7));
        client.push_str(&host("down", 9));
        client.push_str(&host("down2", 10));
        client.push_str(&format!(
            "{}  UserKnownHostsFile {}/empty_known_hosts\n",
            host("badkey", 2),
            dir.display()
        ));
        client.push_str(&format!(
            "{}  IdentityFile {}/stranger\n",
            host("noauth", 2),
            dir.display()
        ));
        client.push_str(&format!(
            "Host h1 h2 h3 h4 bare oldash down down2 badkey\n  IdentityFile {dir}/client\n\
             Host *\n  Port {port}\n  User {me}\n  IdentitiesOnly yes\n\
             UserKnownHostsFile {dir}/known_hosts\n  StrictHostKeyChecking yes\n  CheckHostIP no\n\
             BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n",
            dir = dir.display()
        ));
        std::fs::write(dir.join("ssh_config"), client).expect("ssh_config");
        let script = format!(
            "{sshd} -D -e -f {dir}/sshd_config 2>{dir}/sshd.log & pid=$!; read x; kill $pid; wait $pid; [ \"$x\" = keep ] || rm -rf {dir}",
            sshd = sshd.display(),
            dir = dir.display()
        );
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd's wrapper");
        let deadline = Instant::now() + Duration::from_secs(15);
        let listening = || {
            (2..2 + LISTEN).all(|n| {
                TcpStream::connect_timeout(
                    &SocketAddr::from((addr(n), port)),
                    Duration::from_millis(200),
                )
                .is_ok()
            })
        };
        while Instant::now() < deadline && !listening() {
            if let Ok(Some(_)) = wrapper.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if listening() {
            return Sshd {
                ash_ssh: format!("ssh -F {}/ssh_config", dir.display()),
                bare_cache,
                _wrapper: Mutex::new(wrapper),
            };
        }
        last_error = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        if let Some(stdin) = wrapper.stdin.as_mut() {
            let _ = stdin.write_all(b"keep\n");
        }
        let _ = wrapper.wait();
        std::fs::create_dir_all(&dir).expect("temp dir");
    }
    panic!("sshd did not start: {last_error}");
}
