fn main() {
    std::process::exit(ash::cli::main());
}
