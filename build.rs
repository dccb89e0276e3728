//! Compiles the protocol definitions in proto/ with protox (a pure-Rust protobuf compiler), so a
//! bare machine needs no system `protoc`, then generates tonic server and client code.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/tfplugin5.proto", "proto/plugin.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        // Every RPC gets a default UNIMPLEMENTED body, so a server implements only what it
        // serves and newer protocol additions stay harmless.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
