//! Private TLS servers a test owns: a throwaway CA and server certificate (openssl CLI), a
//! PostgreSQL instance that accepts only TLS, a Redis that listens only on a TLS port, and a
//! TLS terminator in front of the shared RabbitMQ. Each runs on a free port and is stopped
//! when dropped; the shared servers are never touched.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use crate::servers::{Server, as_server_user, free_port, listening, pg_bin, pg_ready};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A directory of certificates: `ca.pem` (the CA clients trust), `server.pem`/`server.key`
/// (for `localhost` and 127.0.0.1, signed by that CA), and `other-ca.pem`, a CA that signed
/// nothing here (for testing that verification really happens).
pub struct TestCerts {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl TestCerts {
    /// Generates the certificates in a fresh directory under the system temp dir.
    pub fn generate() -> TestCerts {
        let dir = std::env::temp_dir().join(format!("budgetsmart-tls-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("creates the directory");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (key, cert, name) in
            [("ca.key", "ca.pem", "BudgetSmart test CA"), ("other-ca.key", "other-ca.pem", "Other CA")]
        {
            let subject = format!("/CN={name}");
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", key, "-out", cert, "-days", "2", "-subj", &subject]);
            args.extend([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&dir, &args);
        }
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        openssl(&dir, &args);
        std::fs::write(
            dir.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("writes");
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        TestCerts { dir }
    }

    /// The path of one of the files.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private PostgreSQL that accepts only TLS connections (`hostssl` is its only TCP rule).
pub struct TlsPostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    // Killed on drop; its data directory lives in the certificates' and goes with them.
    _server: Server,
}

impl TlsPostgres {
    /// Initialises a cluster and starts it with `certs`' server certificate.
    pub async fn start(certs: &TestCerts) -> TlsPostgres {
        let data = certs.dir().join("pgdata");
        let keys = certs.dir().join("pgkeys");
        std::fs::create_dir_all(&keys).expect("creates");
        for file in ["server.pem", "server.key"] {
            std::fs::copy(certs.dir().join(file), keys.join(file)).expect("copies");
        }
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(certs.dir()).status();
        let _ = Command::new("chmod").args(["755"]).arg(certs.dir()).status();
        let _ = Command::new("chmod").arg("600").arg(keys.join("server.key")).status();
        let init = as_server_user(&pg_bin("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
            .expect("writes pg_hba.conf");
        let port = free_port();
        let server = as_server_user(&pg_bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data.display()))
            .arg("-c")
            .arg(format!("ssl_cert_file={}", keys.join("server.pem").display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", keys.join("server.key").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let server = Server(server);
        pg_ready(port).await;
        TlsPostgres { port, _server: server }
    }

    /// A URL for database `postgres` with these libpq-style TLS parameters.
    pub fn url(&self, tls: &str) -> String {
        format!("postgres://postgres@localhost:{}/postgres?{tls}", self.port)
    }
}

/// A private Redis listening only on a TLS port.
pub struct TlsRedis {
    /// Its TLS port on 127.0.0.1.
    pub port: u16,
    _server: Server,
}

impl TlsRedis {
    /// Starts `redis-server` with `certs`' server certificate.
    pub async fn start(certs: &TestCerts) -> TlsRedis {
        let port = free_port();
        let server = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &certs.path("server.pem"), "--tls-key-file", &certs.path("server.key")])
            .args(["--tls-ca-cert-file", &certs.path("ca.pem"), "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Server(server);
        listening(port, "the private Redis").await;
        TlsRedis { port, _server: server }
    }
}

/// Terminates TLS with `certs`' server certificate and forwards the plain bytes to `target`
/// (the shared RabbitMQ), so a client's `amqps://` path is exercised against the real broker.
pub struct TlsTerminator {
    /// Where it listens, on 127.0.0.1.
    pub addr: SocketAddr,
    accept: AbortHandle,
}

impl TlsTerminator {
    /// Starts on a fresh loopback port.
    pub async fn start(certs: &TestCerts, target: SocketAddr) -> TlsTerminator {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certs.path("server.pem"))
            .expect("reads the certificate")
            .collect::<Result<_, _>>()
            .expect("parses the certificate");
        let key = PrivateKeyDer::from_pem_file(certs.path("server.key")).expect("reads the key");
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a usable certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(inbound).await else { return };
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
                    }
                });
            }
        })
        .abort_handle();
        TlsTerminator { addr, accept }
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
