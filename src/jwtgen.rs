//! Placeholder being replaced by the jwtgen compatibility module.
pub fn main(_args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    std::process::ExitCode::from(1)
}
