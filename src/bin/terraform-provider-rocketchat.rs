//! `terraform-provider-rocketchat`: the Rocket.Chat Terraform provider plugin (resource
//! `rocketchat_user_import`). Terraform launches it; run by hand it explains that and exits 1.

fn main() -> std::process::ExitCode {
    tfplugin::serve(woosmap_import::rocketchat::provider::RocketChatProvider::new())
}
