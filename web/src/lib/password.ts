// The password rules the server enforces, as hints shown while typing. The
// server has the final word (and a list of obvious passwords); its message is
// shown when it refuses.

export interface Rule {
  text: string;
  met: boolean;
}

export function policyProblems(username: string, password: string): Rule[] {
  const lower = password.toLowerCase();
  const user = username.toLowerCase();
  const rules: Rule[] = [{ text: 'At least 10 characters', met: [...password].length >= 10 }];
  rules.push({
    text: 'Does not contain the user name',
    met: password !== '' && lower !== user && !(user.length >= 4 && lower.includes(user)),
  });
  rules.push({ text: 'Not an obvious one ("password123", "1111111111", …)', met: password !== '' && !obvious(lower) });
  return rules;
}

function obvious(lower: string): boolean {
  return new Set(lower).size <= 1 || /^(password|passw0rd|qwerty|letmein|welcome|123456|abc123|proxmox|proxwatch)/.test(lower);
}
