// The rsh bridge in Perl: the same protocol as rsh-bridge.ts, in a process of ~8 MB instead of
// Node's ~45 MB. rsync starts one bridge per run and the worker runs several at once, so on a
// machine with Perl (Essential in Debian) the sidecar's memory is mostly gsyncd's own processes.
// Written into the bridge's private directory at start-up: nothing to install beside dist/.
import { spawnSync } from 'node:child_process';

export const PERL_BRIDGE = String.raw`use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_STREAM pack_sockaddr_un);

my ($socket_path, @rest) = @ARGV;
if (!defined $socket_path) { print STDERR "rsh-bridge: no socket given\n"; exit 12; }
# rsync runs us as: SOCKET [-l USER] [-p PORT] HOST COMMAND...: only COMMAND goes to the worker.
my $i = 0;
$i += ($rest[$i] eq '-l' || $rest[$i] eq '-p') ? 2 : 1 while $i < @rest && $rest[$i] =~ /^-/;
my @command = @rest[$i + 1 .. $#rest];

sub json_string {
  my ($s) = @_;
  $s =~ s/(["\\])/\\$1/g;
  $s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord($1))/ge;
  return "\"$s\"";
}

socket(my $sock, AF_UNIX, SOCK_STREAM, 0) or die "rsh-bridge: socket: $!\n";
if (!connect($sock, pack_sockaddr_un($socket_path))) {
  print STDERR "rsh-bridge: cannot reach the gsyncd worker: $!\n";
  exit 12;
}
binmode(STDIN); binmode(STDOUT); binmode(STDERR); binmode($sock);

sub write_all {
  my ($fh, $data) = @_;
  while (length $data) {
    my $n = syswrite($fh, $data);
    if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; return 0; }
    substr($data, 0, $n) = '';
  }
  return 1;
}

write_all($sock, '{"argv":[' . join(',', map { json_string($_) } @command) . "]}\n") or exit 12;

my ($stdin_open, $pending, $code) = (1, '', 255);
while (1) {
  my $rin = '';
  vec($rin, fileno($sock), 1) = 1;
  vec($rin, fileno(STDIN), 1) = 1 if $stdin_open;
  my $ready = select(my $rout = $rin, undef, undef, undef);
  if ($ready < 0) { next if $!{EINTR}; last; }
  if ($stdin_open && vec($rout, fileno(STDIN), 1)) {
    my $n = sysread(STDIN, my $data, 65536);
    if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; $n = 0; }
    if ($n == 0) { shutdown($sock, 1); $stdin_open = 0; }
    elsif (!write_all($sock, $data)) { last; }
  }
  if (vec($rout, fileno($sock), 1)) {
    my $n = sysread($sock, my $data, 65536);
    if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; last; }
    last if $n == 0;
    $pending .= $data;
    # Frames: type (1 = stdout, 2 = stderr, 3 = exit status), u32 length, payload.
    while (length($pending) >= 5) {
      my ($type, $len) = unpack('C N', $pending);
      last if length($pending) < 5 + $len;
      my $payload = substr($pending, 5, $len);
      substr($pending, 0, 5 + $len) = '';
      if ($type == 1) { write_all(\*STDOUT, $payload) or exit 12; }
      elsif ($type == 2) { write_all(\*STDERR, $payload); }
      elsif ($type == 3) { $code = unpack('N', $payload); }
    }
  }
}
exit $code;
`;

/** Can `perl` here compile the bridge written at `script` (an interpreter with its modules)? */
export function perlCompiles(script: string): boolean {
  const probe = spawnSync('perl', ['-c', script], { stdio: 'ignore', timeout: 10_000 });
  return probe.status === 0;
}
