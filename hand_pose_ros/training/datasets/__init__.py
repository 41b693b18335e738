"""Real depth hand-pose datasets (ICVL, NYU, MSRA15) as map-style datasets of one ``Sample``."""
from .icvl import ICVLDataset, read_icvl_depth
from .msra import MSRADataset, read_msra_depth
from .nyu import NYUDataset, read_nyu_depth
from .sample import DatasetError, Sample

__all__ = ['DatasetError', 'ICVLDataset', 'MSRADataset', 'NYUDataset', 'Sample',
           'read_icvl_depth', 'read_msra_depth', 'read_nyu_depth']
