"""Filter that points a scrape config from monitoring/ at the deployed files."""

from __future__ import annotations

import copy
import posixpath

from ansible.errors import AnsibleFilterError


def _merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def ffwatt_scrape_config(config, targets_dir, ca_file, job_overrides=None, bearer_token_file=None):
    """Return a copy of a Prometheus-style scrape config whose file_sd files point at
    targets_dir/<base name>, with job_overrides[job_name] merged into each job, and
    whose tls_config.ca_file (if any) points at ca_file. Jobs scraping over HTTPS with
    no tls_config get ca_file too; jobs that carry an authorization/bearer_token_file
    setting get bearer_token_file."""
    if not isinstance(config, dict) or not isinstance(config.get('scrape_configs'), list):
        raise AnsibleFilterError('scrape config: expected a mapping with a scrape_configs list '
                                 '(monitoring/victoria-metrics/scrape.yml)')
    out = copy.deepcopy(config)
    for job in out['scrape_configs']:
        name = job.get('job_name', '?')
        for sd in job.get('file_sd_configs', []) or []:
            files = sd.get('files')
            if not isinstance(files, list) or not files:
                raise AnsibleFilterError('scrape config: job %s: file_sd_configs needs a files list' % name)
            sd['files'] = [posixpath.join(targets_dir, posixpath.basename(f)) for f in files]
        _merge(job, (job_overrides or {}).get(name, {}))
        if job.get('scheme') == 'https':
            job.setdefault('tls_config', {})
        if isinstance(job.get('tls_config'), dict):
            job['tls_config']['ca_file'] = ca_file
        if bearer_token_file:
            if 'bearer_token_file' in job:
                job['bearer_token_file'] = bearer_token_file
            auth = job.get('authorization')
            if isinstance(auth, dict) and 'credentials_file' in auth:
                auth['credentials_file'] = bearer_token_file
    return out


def ffwatt_file_sd_names(config):
    """Base names of every file_sd file a scrape config refers to."""
    names = []
    for job in (config or {}).get('scrape_configs', []) or []:
        for sd in job.get('file_sd_configs', []) or []:
            for f in sd.get('files', []) or []:
                base = posixpath.basename(f)
                if base not in names:
                    names.append(base)
    return names


class FilterModule:
    def filters(self):
        return {
            'ffwatt_scrape_config': ffwatt_scrape_config,
            'ffwatt_file_sd_names': ffwatt_file_sd_names,
        }
