//! Private server processes a test owns, on free ports: they can be stopped and restarted
//! without touching the shared servers other tests are using.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpStream;

/// A port nothing listens on now, below the kernel's ephemeral range: a port the kernel hands
/// out for outgoing connections can be taken as a source port between this check and the
/// server's bind ("Address already in use", seen in `make chaos`). The start is random, so
/// parallel tests spread out.
pub fn free_port() -> u16 {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low > 12_000)
        .unwrap_or(32_768);
    let (low, span) = (10_000u16, first_ephemeral - 10_000);
    // Each call in this process starts elsewhere, so two ports asked for before either is
    // bound differ.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
            ^ std::process::id().rotate_left(16)
            ^ call.wrapping_mul(2_654_435_761);
    for i in 0..u32::from(span) {
        let port = low + ((seed.wrapping_add(i.wrapping_mul(7_919))) % u32::from(span)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("has one").port()
}

/// A child process killed when dropped.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` (a `kill` name such as `TERM` or `QUIT`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

/// Waits until something accepts TCP connections on `port`.
pub(crate) async fn listening(port: u16, what: &str) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not start listening on {port}");
}

/// PostgreSQL's binaries (`PG_BIN`, default Debian's PostgreSQL 15).
pub(crate) fn pg_bin(name: &str) -> String {
    let dir = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    format!("{dir}/{name}")
}

/// Waits until the PostgreSQL on `port` accepts sessions: listening comes first, while it
/// still answers "the database system is starting up".
pub(crate) async fn pg_ready(port: u16) {
    listening(port, "the private PostgreSQL").await;
    for _ in 0..200 {
        let ready = Command::new(pg_bin("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The numeric id `id` prints with `flag` for `user` (`None` for the current user).
fn id(flag: &str, user: Option<&str>) -> Option<u32> {
    let output = Command::new("id").arg(flag).args(user).output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// PostgreSQL refuses to run as root; then its commands run as the `postgres` user. The process
/// itself switches user (no `runuser` in between), so killing the child kills the server.
pub(crate) fn as_server_user(program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    if id("-u", None) == Some(0)
        && let (Some(uid), Some(gid)) = (id("-u", Some("postgres")), id("-g", Some("postgres")))
    {
        command.uid(uid).gid(gid);
    }
    command
}

/// A private PostgreSQL (plain TCP, trust auth) in a temporary data directory. `crash` stops
/// it as a power cut would and `start` brings it back on the same port and data.
pub struct PrivatePostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    server: Option<Child>,
}

impl PrivatePostgres {
    /// `initdb` and start.
    pub async fn start() -> PrivatePostgres {
        let dir = std::env::temp_dir().join(format!("budgetsmart-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("creates the directory");
        let _ = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status();
        let init = as_server_user(&pg_bin("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let mut postgres = PrivatePostgres { port: free_port(), dir, server: None };
        postgres.resume().await;
        postgres
    }

    /// A URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server again after [`PrivatePostgres::crash`] (crash recovery runs first).
    pub async fn resume(&mut self) {
        let data = self.dir.join("data");
        let server = as_server_user(&pg_bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data.display()))
            .args(["-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        self.server = Some(server);
        pg_ready(self.port).await;
    }

    /// Immediate shutdown (SIGQUIT): every session is cut, nothing is checkpointed, and the next
    /// start replays the WAL, as after a crash. SIGKILL would leave the backends holding the
    /// shared memory and the next start refused.
    pub async fn crash(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(server.id(), "QUIT");
            let _ = tokio::task::spawn_blocking(move || server.wait()).await;
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(server.id(), "QUIT");
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private Redis that keeps nothing on disk, so a restart loses every key, as a failed-over
/// cache without persistence would.
pub struct PrivateRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    server: Option<Server>,
}

impl PrivateRedis {
    /// Starts it on a free port.
    pub async fn start() -> PrivateRedis {
        let mut redis = PrivateRedis { port: free_port(), server: None };
        redis.resume().await;
        redis
    }

    /// `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL).
    pub fn kill(&mut self) {
        self.server = None;
    }

    /// Starts it again on the same port, empty.
    pub async fn resume(&mut self) {
        let server = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.server = Some(Server(server));
        listening(self.port, "the private Redis").await;
    }
}
