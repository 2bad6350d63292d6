# A script's fn main, called last with $args parsed (RunMain, EndMain).
fn main(src, --verbose -v, --jobs = 2 * 2, ...files) {
  echo $src $verbose $jobs $files
}
