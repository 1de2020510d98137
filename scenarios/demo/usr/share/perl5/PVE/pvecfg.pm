package PVE::pvecfg;

use strict;
use warnings;

sub package {
    return 'pve-manager';
}

sub version {
    return '8.2.4';
}

sub release {
    return '8.2';
}

sub repoid {
    return 'faa83925c9641325';
}

sub version_text {
    return '8.2.4/faa83925c9641325';
}

1;
