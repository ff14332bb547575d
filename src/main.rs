fn main() {
    std::process::exit(kalshi_desk::cli::run());
}
