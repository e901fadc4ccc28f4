//! `terraform-provider-woosmap`: the Terraform provider plugin. Terraform launches it; run by
//! hand it explains that and exits 1.

fn main() -> std::process::ExitCode {
    tfplugin::serve(woosmap::provider::WoosmapProvider::new())
}
