//! `signet completions SHELL` and `signet man`: shell completions and man pages, generated from
//! the same clap definitions as the command line itself (clap_complete, clap_mangen), so they
//! never disagree with it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Command};
use clap_complete::Shell;

use crate::exit::Outcome;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write signet.1 and one page per subcommand (signet-sign.1, signet-keys-generate.1, …)
    /// into this directory; without it, print signet.1 on standard output
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script for `shell` on standard output.
pub fn completions(a: &CompletionsArgs, mut cmd: Command) -> Outcome {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(a.shell, &mut cmd, name, &mut std::io::stdout());
    Ok(())
}

/// Prints signet.1, or writes every page into `--dir`.
pub fn man(a: &ManArgs, cmd: Command) -> Outcome {
    let mut cmd = cmd;
    cmd.build();
    match &a.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot render the man page")?;
            std::io::Write::write_all(&mut std::io::stdout(), &out)
                .context("cannot write the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut written = Vec::new();
            let name = cmd.get_name().to_owned();
            write_pages(&cmd, &name, &name, dir, &mut written)?;
            for path in written {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

/// Writes `name.1` for `cmd` (invoked as `bin`) and, recursively, `name-sub.1` for each
/// subcommand (invoked as `bin sub`).
fn write_pages(
    cmd: &Command,
    name: &str,
    bin: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Outcome {
    let page = cmd.clone().name(name.to_owned()).bin_name(bin.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .with_context(|| format!("cannot render {name}.1"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = sub.get_name();
        write_pages(
            sub,
            &format!("{name}-{sub_name}"),
            &format!("{bin} {sub_name}"),
            dir,
            written,
        )?;
    }
    Ok(())
}
