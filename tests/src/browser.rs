//! A real browser for the console's test: Debian's headless Chromium driven by its ChromeDriver
//! over the W3C WebDriver protocol (plain HTTP + JSON; no browser download, no client library).
//! `scripts/test.sh` installs both from the system's packages (`chromium`, `chromium-driver`).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The key W3C WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// ChromeDriver's and Chromium's paths: `CHROMEDRIVER`, `CHROMIUM` or Debian's.
fn program(var: &str, default: &str) -> PathBuf {
    let p = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
    if !p.exists() {
        panic!(
            "{} not found: scripts/test.sh installs Debian's chromium and chromium-driver (or set {var})",
            p.display()
        );
    }
    p
}

/// One browser session; the driver and the browser stop when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
}

impl Browser {
    /// Starts ChromeDriver on a free loopback port and a headless Chromium session (a new empty
    /// profile; no network of its own besides loopback).
    pub async fn start() -> Self {
        let driver_path = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let port = free_port();
        let driver = Command::new(&driver_path)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", driver_path.display()));
        let profile = std::env::temp_dir().join(crate::unique("chromium-"));
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap_or_else(|e| panic!("{e}"));
        let base = format!("http://127.0.0.1:{port}");
        let mut up = false;
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut b = Self { http, base, driver, profile };
        assert!(up, "chromedriver did not come up on port {port}");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .chain([format!("--user-data-dir={}", b.profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args}}}});
        let v = b.call(reqwest::Method::POST, "/session", Some(caps)).await;
        let id = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_owned();
        b.base = format!("{}/session/{id}", b.base);
        // An element looked for is waited for (up to 5 s) while a page loads.
        b.call(reqwest::Method::POST, "/timeouts", Some(json!({"implicit": 5000, "pageLoad": 30000}))).await;
        b
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => panic!("webdriver {method} {path}: {e}"),
        }
    }

    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{status} {}",
                v["value"]["message"].as_str().unwrap_or_default().lines().next().unwrap_or_default()
            ))
        }
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The text the page shows (what a person reads; no markup).
    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element `css` selects (panics, naming it, when there is none).
    /// The failure names the page the browser is on and what it says.
    pub async fn find(&self, css: &str) -> String {
        let by = |css: &str| json!({"using": "css selector", "value": css});
        match self.try_call(reqwest::Method::POST, "/element", Some(by(css))).await {
            Ok(v) => v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_owned(),
            Err(e) => {
                let url = self.url().await;
                let body = self.try_call(reqwest::Method::POST, "/element", Some(by("body"))).await;
                let text = match body.ok().and_then(|b| b[ELEMENT].as_str().map(str::to_owned)) {
                    Some(b) => self.call(reqwest::Method::GET, &format!("/element/{b}/text"), None).await,
                    None => Value::Null,
                };
                let text: String = text.as_str().unwrap_or_default().chars().take(600).collect();
                panic!("no element {css} on {url} ({e}); the page says:\n{text}")
            }
        }
    }

    /// How many elements `css` selects on the page as it is (no waiting: none is an answer).
    pub async fn count(&self, css: &str) -> usize {
        self.call(reqwest::Method::POST, "/timeouts", Some(json!({"implicit": 0}))).await;
        let v =
            self.call(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        self.call(reqwest::Method::POST, "/timeouts", Some(json!({"implicit": 5000}))).await;
        v.as_array().map_or(0, Vec::len)
    }

    /// Clicks what does not leave the page (an option, a checkbox).
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    /// Clicks a link or a form's button and waits until the page it leads to replaced this one
    /// (the old document's root gone stale), so that what is read next is the new page.
    pub async fn follow(&self, css: &str) {
        let root = self.find("html").await;
        self.click(css).await;
        for _ in 0..200 {
            let r = self.http.get(format!("{}/element/{root}/name", self.base)).send().await;
            if !r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} did not lead to another page within 10 s");
    }

    /// Replaces a text field's value, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    /// The browser's cookies (HttpOnly ones too: the driver sees them, a page's script would not).
    pub async fn cookies(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "/cookie", None).await.as_array().cloned().unwrap_or_default()
    }

    /// A PNG of the window, written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap_or_default());
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(super::base64_decode("aGVsbG8="), b"hello");
        assert_eq!(super::base64_decode("aGVsbG8h"), b"hello!");
        assert_eq!(super::base64_decode("aA=="), b"h");
    }
}
