//! `terraform-provider-woosmap`: the Terraform provider plugin. Terraform launches it; run by
//! hand it explains that and exits 1. With `-debug` (or `--debug`) it runs on its own for a
//! debugger and prints the `TF_REATTACH_PROVIDERS` value that points Terraform at it.

fn main() -> std::process::ExitCode {
    let provider = woosmap_import::woosmap::provider::WoosmapProvider::new();
    if std::env::args()
        .skip(1)
        .any(|a| a == "-debug" || a == "--debug")
    {
        return tfplugin::serve_debug(
            provider,
            woosmap_import::woosmap::provider::PROVIDER_ADDRESS,
        );
    }
    tfplugin::serve(provider)
}
