# Shell functions shared by ./jbang and ./mvnw (sourced, never run): finding a JDK 21+ and
# downloading pinned files from Maven Central. One copy, so both launchers pick the same JDK and
# check downloads the same way.
#
# The sourcing script sets LAUNCHER_TAG (the prefix of its messages, e.g. "[jbang launcher]") and
# MIN_JAVA (the oldest JDK feature version it accepts) before calling anything here.

log() { printf '%s %s\n' "$LAUNCHER_TAG" "$*" >&2; }
die() { # die <exit code> <message>
  local code=$1
  shift
  printf 'ERROR: %s\n' "$*" >&2
  exit "$code"
}

# ---------------------------------------------------------------------------
# JDK discovery
# ---------------------------------------------------------------------------

# jdk_major <home>: sets JDK_MAJOR to the feature version of the JDK at <home>
# (0 if unknown). Returns 1 unless <home> holds a usable JDK (java and javac).
JDK_MAJOR=0
jdk_major() {
  local home=$1 ver='' line out
  JDK_MAJOR=0
  if [ -z "$home" ] || [ ! -x "$home/bin/java" ] || [ ! -x "$home/bin/javac" ]; then
    return 1
  fi
  if [ -f "$home/release" ]; then
    # JAVA_VERSION="25.0.1"; read without forking anything (fast path).
    while IFS= read -r line || [ -n "$line" ]; do
      case $line in
        JAVA_VERSION=*) ver=${line#JAVA_VERSION=}; break ;;
      esac
    done <"$home/release"
  fi
  if [ -z "$ver" ]; then
    # e.g. openjdk version "17.0.15" 2025-04-15 (possibly after "Picked up ..." lines)
    out=$("$home/bin/java" -version 2>&1) || true
    while IFS= read -r line; do
      case $line in
        *' version "'*) ver=$line; break ;;
      esac
    done <<<"$out"
  fi
  case $ver in *\"*) ver=${ver#*\"}; ver=${ver%%\"*} ;; esac
  case $ver in 1.*) ver=${ver#1.} ;; esac # 1.8.0_292 -> 8
  ver=${ver%%[!0-9]*}
  [ -n "$ver" ] || return 1
  JDK_MAJOR=$ver
}

# java_home_of_path_java: sets PATH_JAVA_HOME to the home of `java` on PATH.
PATH_JAVA_HOME=''
java_home_of_path_java() {
  local java target line out
  PATH_JAVA_HOME=''
  java=$(command -v java 2>/dev/null) || return 1
  # Resolve symlinks (/usr/bin/java -> /etc/alternatives/java -> ...) portably.
  while [ -L "$java" ]; do
    target=$(readlink "$java") || break
    case $target in
      /*) java=$target ;;
      *) java=${java%/*}/$target ;;
    esac
  done
  case $java in
    */bin/java) PATH_JAVA_HOME=${java%/bin/java} ;;
  esac
  if [ -n "$PATH_JAVA_HOME" ] && [ -f "$PATH_JAVA_HOME/release" ]; then
    return 0
  fi
  # Stubs such as macOS /usr/bin/java: ask macOS, else the JVM itself.
  if [ -x /usr/libexec/java_home ] && [ "$java" = /usr/bin/java ]; then
    PATH_JAVA_HOME=$(/usr/libexec/java_home 2>/dev/null) || PATH_JAVA_HOME=''
    if [ -n "$PATH_JAVA_HOME" ]; then return 0; fi
  fi
  out=$(java -XshowSettings:properties -version 2>&1) || return 1
  while IFS= read -r line; do
    case $line in
      *'java.home = '*) PATH_JAVA_HOME=${line#*java.home = }; return 0 ;;
    esac
  done <<<"$out"
  [ -n "$PATH_JAVA_HOME" ]
}

# find_jdk: sets FOUND_JDK to a JDK home of version >= MIN_JAVA, or returns 1.
# Order: JAVA_HOME, java on PATH, then the newest JDK in well-known folders.
FOUND_JDK=''
PATH_JAVA_DESC='no java on PATH'
find_jdk() {
  local dir best='' best_major=0 jbang_cache
  FOUND_JDK=''
  if jdk_major "${JAVA_HOME:-}" && [ "$JDK_MAJOR" -ge "$MIN_JAVA" ]; then
    FOUND_JDK=$JAVA_HOME
    return 0
  fi
  if java_home_of_path_java; then
    if jdk_major "$PATH_JAVA_HOME"; then
      PATH_JAVA_DESC="java on PATH is $JDK_MAJOR"
      if [ "$JDK_MAJOR" -ge "$MIN_JAVA" ]; then
        FOUND_JDK=$PATH_JAVA_HOME
        return 0
      fi
    else
      PATH_JAVA_DESC="java on PATH is not a JDK ($PATH_JAVA_HOME)"
    fi
  fi
  jbang_cache=${JBANG_CACHE_DIR:-${JBANG_DIR:-${HOME:-/nonexistent}/.jbang}/cache}
  for dir in /usr/lib/jvm/* /usr/java/* /opt/java/* \
    /Library/Java/JavaVirtualMachines/*/Contents/Home \
    "${HOME:-/nonexistent}"/.sdkman/candidates/java/* \
    "$jbang_cache"/jdks/*; do
    [ -d "$dir/Contents/Home" ] && dir=$dir/Contents/Home
    if jdk_major "$dir" && [ "$JDK_MAJOR" -gt "$best_major" ]; then
      best=$dir
      best_major=$JDK_MAJOR
    fi
  done
  if [ "$best_major" -ge "$MIN_JAVA" ]; then
    FOUND_JDK=$best
    return 0
  fi
  return 1
}

# use_jdk: exports JAVA_HOME as the JDK find_jdk finds; none: exit 2 with what was seen.
use_jdk() {
  if ! find_jdk; then
    die 2 "$0 needs a JDK $MIN_JAVA or newer and found none (JAVA_HOME=${JAVA_HOME:-unset}, $PATH_JAVA_DESC). Install one (e.g. apt-get install openjdk-21-jdk-headless, or sdk install java 21-tem) or set JAVA_HOME."
  fi
  export JAVA_HOME=$FOUND_JDK
}

# ---------------------------------------------------------------------------
# Downloads from Maven Central
# ---------------------------------------------------------------------------

# cache_root <variable naming the root> <folder under ~/.cache>: sets CACHE_ROOT.
CACHE_ROOT=''
cache_root() {
  if [ -n "${!1:-}" ]; then
    CACHE_ROOT=${!1}
  elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    CACHE_ROOT=$XDG_CACHE_HOME/$2
  elif [ -n "${HOME:-}" ]; then
    CACHE_ROOT=$HOME/.cache/$2
  else
    die 1 "$LAUNCHER_TAG HOME is not set; set $1 to a cache folder."
  fi
}

# central_repo: prints the address of Maven Central, or of the mirror MAVEN_CENTRAL_URL names.
CENTRAL_URL=https://repo.maven.apache.org/maven2
central_repo() {
  local repo=${MAVEN_CENTRAL_URL:-$CENTRAL_URL}
  printf '%s\n' "${repo%/}"
}

# log_downloading <what> <repo> [<detail>]: says what is downloaded, and from where unless Maven Central.
log_downloading() {
  if [ "$2" = "$CENTRAL_URL" ]; then
    log "downloading $1 from Maven Central${3:-}..."
  else
    log "downloading $1 from $2${3:-}..."
  fi
}

# choose_tools <what is verified> <what is downloaded>: picks the hashing and download tools once, up
# front (not inside the command substitutions below, where a `die` would only leave the subshell).
HASH_TOOL=''
DOWNLOADER=''
choose_tools() {
  if command -v sha256sum >/dev/null 2>&1; then
    HASH_TOOL=sha256sum
  elif command -v shasum >/dev/null 2>&1; then
    HASH_TOOL=shasum
  elif command -v openssl >/dev/null 2>&1; then
    HASH_TOOL=openssl
  else
    die 1 "$LAUNCHER_TAG need sha256sum, shasum or openssl to verify $1."
  fi
  if command -v curl >/dev/null 2>&1; then
    DOWNLOADER=curl
  elif command -v wget >/dev/null 2>&1; then
    DOWNLOADER=wget
  else
    die 1 "$LAUNCHER_TAG need curl or wget to download $2 from Maven Central."
  fi
}

sha256_of() { # prints the SHA-256 of file $1 (nothing if it cannot be read)
  local out=''
  case $HASH_TOOL in
    sha256sum) out=$(sha256sum "$1" 2>/dev/null) || out='' ;;
    shasum) out=$(shasum -a 256 "$1" 2>/dev/null) || out='' ;;
    *) out=$(openssl dgst -sha256 -r "$1" 2>/dev/null) || out='' ;;
  esac
  printf '%s\n' "${out%% *}"
}

TMP_FILE='' # a download under way
TMP_DIR=''  # a folder being filled, renamed into place when complete
cleanup_tmp() {
  if [ -n "$TMP_FILE" ]; then rm -f "$TMP_FILE"; fi
  if [ -n "$TMP_DIR" ]; then rm -rf "$TMP_DIR"; fi
  TMP_FILE=''
  TMP_DIR=''
}

fetch() { # fetch <url> <dest>; on failure prints the reason and returns 1
  local err='' rc=0
  if [ "$DOWNLOADER" = curl ]; then
    err=$(curl -fsSL --retry 3 --connect-timeout 20 --max-time 600 -o "$2" "$1" 2>&1 </dev/null) || rc=$?
  else
    err=$(wget -q --tries=3 --timeout=60 -O "$2" "$1" 2>&1 </dev/null) || rc=$?
    if [ "$rc" -ne 0 ]; then err="wget exit code $rc${err:+: $err}"; fi
  fi
  if [ "$rc" -ne 0 ]; then
    err=${err//$'\n'/ }
    printf '%s\n' "${err:-exit code $rc}"
    return 1
  fi
}

# cleanup_on_exit / keep_on_exit: an interrupted download leaves neither TMP_FILE nor TMP_DIR behind.
cleanup_on_exit() {
  trap cleanup_tmp EXIT
  trap 'cleanup_tmp; exit 130' INT
  trap 'cleanup_tmp; exit 143' TERM
}
keep_on_exit() { trap - EXIT INT TERM; }

# fetch_verified <url> <dest> <sha256>: downloads <url> beside <dest>, checks its SHA-256 and only then
# renames it to <dest>; on failure discards it and exits 1. Call choose_tools first.
fetch_verified() {
  local url=$1 dest=$2 sha=$3 name=${2##*/} got reason
  TMP_FILE=${dest%/*}/.$name.$$.part
  if ! reason=$(fetch "$url" "$TMP_FILE"); then
    cleanup_tmp
    die 1 "$LAUNCHER_TAG failed to download $name from $url: $reason"
  fi
  got=$(sha256_of "$TMP_FILE")
  if [ "$got" != "$sha" ]; then
    cleanup_tmp
    die 1 "$LAUNCHER_TAG checksum mismatch for $name from $url (expected sha256 $sha, got $got); the file was discarded."
  fi
  mv -f "$TMP_FILE" "$dest"
  TMP_FILE=''
}
