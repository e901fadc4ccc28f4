//! Prints one line shaped like a go-plugin handshake and exits: the least a plugin can do
//! before Terraform may connect (exec, the loader, Rust's start-up, one write).

use std::io::Write;

fn main() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"1|6|tcp|127.0.0.1:1|grpc|floor\n");
    let _ = out.flush();
}
