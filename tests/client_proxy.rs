//! Proxy variables are honoured for HostUp (https), and never used for a loopback endpoint
//! (the simulator). One test in its own binary, because it sets process-wide variables.

mod client_util;

use std::time::Duration;

use client_util::*;
use hostup_provider::hostup::{Client, ClientConfig, ErrorKind, RetryPolicy};
use hostup_provider::sim::SimConfig;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn https_goes_through_the_proxy_and_loopback_does_not() {
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    std::env::set_var("HTTPS_PROXY", &proxy_url);
    std::env::set_var("HTTP_PROXY", &proxy_url);
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let seen = tokio::spawn(async move {
        let (mut sock, _) = proxy.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        // Close without tunnelling: the request fails, but the proxy saw it.
        String::from_utf8_lossy(&buf).to_string()
    });
    let mut cfg = ClientConfig::new("https://cloud.hostup.se", KEY_TEST).unwrap();
    cfg.retry = RetryPolicy {
        max_attempts: 1,
        ..fast_retry()
    };
    let c = Client::new(cfg).unwrap();
    let e = c.get_vps(VPS_APP).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    let head = tokio::time::timeout(Duration::from_secs(10), seen)
        .await
        .unwrap()
        .unwrap();
    assert!(head.starts_with("CONNECT cloud.hostup.se:443 "), "{head}");
    assert!(
        !head.contains(KEY_TEST),
        "the key never goes to the proxy in clear: {head}"
    );

    // The simulator on 127.0.0.1 is reached directly despite the proxy variables.
    let sim = start(SimConfig::default()).await;
    assert_eq!(
        sim.client(KEY_TEST).get_vps(VPS_APP).await.unwrap().id,
        VPS_APP
    );
}
