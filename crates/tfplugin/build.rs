//! Compiles the Terraform plugin protocol (the workspace's top-level `proto/`) with protox
//! (pure Rust, no system `protoc`) and generates tonic servers (and clients, used by tests and
//! by anyone driving a provider from Rust) for them.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "../../proto";
    let protos = [
        format!("{dir}/tfplugin6.proto"),
        format!("{dir}/plugin.proto"),
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(&protos, [dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // no `connect()` constructors: they need tonic's transport, which we do not compile
        .build_transport(false)
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
