//! `signet`: sign, decode and verify JWTs; manage keys; a drop-in `jwtgen`.
#![forbid(unsafe_code)]

mod authz;
mod clock;
mod color;
mod completions;
mod decode;
mod exit;
mod fetch;
mod gateway;
mod gateway_explain;
mod input;
mod jwtgen;
mod keys;
mod login_hint;
mod request_object;
mod serve;
mod sign;
mod ui;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "signet", version, about = "Make, inspect and check JWTs: a strict JOSE toolkit", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour: auto (only on a terminal, and never when NO_COLOR is set), always, never
    #[arg(long, global = true, value_enum, default_value_t = color::ColorChoice::Auto, value_name = "WHEN")]
    color: color::ColorChoice,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign claims into a JWT
    Sign(sign::SignArgs),
    /// Show a token's header, payload and signature (NOT verified)
    Decode(decode::DecodeArgs),
    /// Verify a token's signature and claims; print the claims
    Verify(verify::VerifyArgs),
    /// Generate keys, print public keys and thumbprints
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Make a PingOne login_hint_token (HS256/384/512 with the client secret)
    LoginHint(login_hint::LoginHintArgs),
    /// Make a PingOne request object (request=), e.g. for transaction approval
    RequestObject(request_object::RequestObjectArgs),
    /// Run a local PingOne-style authorization server (authorize, flows, token, JWKS)
    Authz(authz::AuthzArgs),
    /// Run the PingAccess-style identity-mapping gateway (reverse proxy), or --check a configuration
    Gateway(gateway::GatewayArgs),
    /// Serve the browser tools locally: decoder, login_hint_token generator, request-object
    /// builder
    Ui(ui::UiArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(completions::CompletionsArgs),
    /// Print the man page, or write one per subcommand with --dir
    Man(completions::ManArgs),
    /// jwtgen 2.2.0 compatibility: same flags, same output, byte for byte
    #[command(disable_help_flag = true)]
    Jwtgen {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn invoked_as_jwtgen(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_stem().map(|s| s == "jwtgen"))
        .unwrap_or(false)
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if invoked_as_jwtgen(argv.first()) {
        return jwtgen::main(argv.into_iter().skip(1).collect());
    }
    // `signet jwtgen ...` goes straight through, so that every jwtgen flag (even --help and -h)
    // reaches the compatibility layer untouched.
    if argv.get(1).is_some_and(|a| a == "jwtgen") {
        return jwtgen::main(argv.into_iter().skip(2).collect());
    }
    let cli = Cli::parse_from(argv);
    color::init(cli.color);
    let outcome = match &cli.command {
        Command::Sign(a) => sign::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Keys(k) => keys::run(k),
        Command::LoginHint(a) => login_hint::run(a),
        Command::RequestObject(a) => request_object::run(a),
        Command::Authz(a) => authz::run(a),
        Command::Gateway(a) => gateway::run(a),
        Command::Ui(a) => ui::run(a),
        Command::Completions(a) => completions::completions(a, Cli::command()),
        Command::Man(a) => completions::man(a, Cli::command()),
        Command::Jwtgen { args } => return jwtgen::main(args.clone()),
    };
    exit::report(outcome)
}
